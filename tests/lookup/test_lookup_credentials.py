"""An uncached lookup takes the Salesforce token from memory, not from the connection row,
and what it keeps follows refreshes, disconnects and reconnects (app.workspace.tokens)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from app.models import Connection, SalesforceGrant
from tests.helpers.contact_app import ACME, GLOBEX
from tests.helpers.lookups import lookup


async def _overwrite_stored_access_token(app: Any, workspace_id: str, token: str) -> None:
    services = app.state.services
    async with services.db.transaction() as session:
        grant_id = (
            select(Connection.grant_id)
            .where(Connection.workspace_id == workspace_id)
            .scalar_subquery()
        )
        await session.execute(
            update(SalesforceGrant)
            .where(SalesforceGrant.id == grant_id)
            .values(access_token_encrypted=services.cipher.encrypt(token))
        )


async def test_uncached_lookups_use_the_token_kept_in_memory(
    app: Any, client: Any, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await connect("ws-1")
    first = await lookup(client, auth, email="ana.souza@example.com")
    assert first.json()["cached"] is False
    # The row now holds a token Salesforce would refuse: a lookup that read it would get a
    # 401 and refresh.
    await _overwrite_stored_access_token(app, "ws-1", "not-a-salesforce-token")
    sf_emulator.reset_counters()

    second = await lookup(client, auth, email="priya.raman@example.com")

    assert second.status_code == 200, second.text
    assert second.json()["cached"] is False
    assert second.json()["matched"] is True
    assert sf_emulator.counters["query"] == 1
    assert sf_emulator.counters["token"] == 0  # no refresh: the row was not read


async def test_a_refused_kept_token_is_refreshed_once_and_the_new_one_kept(
    app: Any, client: Any, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await connect("ws-1")
    await lookup(client, auth, email="ana.souza@example.com")
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()

    answers = [
        await lookup(client, auth, email=email)
        for email in ("priya.raman@example.com", "nobody-1@example.com", "nobody-2@example.com")
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sf_emulator.counters["token"] == 1
    assert sf_emulator.counters["api"] == 4  # the refused call, then one per lookup


async def test_a_reconnect_drops_the_kept_token(
    app: Any, client: Any, auth: Any, connect: Any
) -> None:
    await connect("ws-1", ACME)
    acme = (await lookup(client, auth, email="ana.souza@example.com")).json()
    assert app.state.services.tokens.held_workspaces == 1

    gone = await client.delete("/v1/workspaces/ws-1/salesforce/connection", headers=auth("ws-1"))
    assert gone.status_code == 204
    assert app.state.services.tokens.held_workspaces == 0

    await connect("ws-1", GLOBEX)
    globex = (await lookup(client, auth, email="ana.souza@example.com")).json()
    assert globex["cached"] is False
    assert globex["contact"]["id"] != acme["contact"]["id"]
