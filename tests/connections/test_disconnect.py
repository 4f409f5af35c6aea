"""Disconnect and reconnect: revoke at Salesforce, tokens gone, caches purged, settings kept."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.models import Connection, WorkspaceSettings
from app.salesforce.errors import NotConnected
from tests.helpers.browser import Browser
from tests.helpers.factories import grant_of


async def connection_row(app: Any, workspace: str = "ws-1") -> Connection | None:
    async with app.state.services.db.transaction() as session:
        row: Connection | None = await session.scalar(
            select(Connection).where(Connection.workspace_id == workspace)
        )
        return row


async def add_settings(app: Any, workspace: str = "ws-1") -> None:
    async with app.state.services.db.transaction() as session:
        session.add(
            WorkspaceSettings(workspace_id=workspace, editing_enabled=True, updated_by="user-1")
        )


async def test_disconnect_revokes_deletes_and_purges(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    purged: list[str] = []

    async def purge(workspace_id: str) -> None:
        purged.append(workspace_id)

    app.state.services.invalidation.on_disconnect.append(purge)
    await browser.connect()
    await add_settings(app)
    grant = await grant_of(app.state.services.db)
    assert grant is not None and grant.refresh_token_encrypted is not None
    refresh_token = app.state.services.cipher.decrypt(grant.refresh_token_encrypted)
    sf_emulator.reset_counters()

    response = await browser.disconnect()

    assert response.status_code == 204
    assert response.content == b""
    assert sf_emulator.counters["revoke"] == 1
    assert sf_emulator.refresh_grant(refresh_token) is None
    assert purged == ["ws-1"]
    status = await browser.status()
    assert status == {
        "status": "disconnected",
        "organization_id": None,
        "organization_name": None,
        "instance_url": None,
        "environment": None,
        "username": None,
        "user_display_name": None,
        "scopes": None,
        "connected_at": None,
        "connected_by": None,
        "status_reason": None,
        "status_detail": None,
        "api_usage": None,
        "method": None,
        "shared_grant_workspaces": None,
        "last_connect_attempt": None,
        "change_stream": None,
    }
    assert await connection_row(app) is None
    with pytest.raises(NotConnected):
        await app.state.services.tokens.credentials("ws-1")
    async with app.state.services.db.transaction() as session:
        kept = await session.get(WorkspaceSettings, "ws-1")
    assert kept is not None and kept.editing_enabled

    again = await browser.disconnect()
    assert again.status_code == 204
    assert sf_emulator.counters["revoke"] == 1  # nothing left to revoke
    assert purged == ["ws-1", "ws-1"]


async def test_a_failed_revoke_still_disconnects(
    browser: Browser, app: Any, sf_emulator: Any, caplog: Any
) -> None:
    await browser.connect()
    sf_emulator.revoke_grants()  # Salesforce no longer knows the token: revoke answers 400

    with caplog.at_level("INFO"):
        response = await browser.disconnect()

    assert response.status_code == 204
    assert await connection_row(app) is None
    assert "salesforce.revoke.failed" in [r.getMessage() for r in caplog.records]


async def test_disconnect_when_salesforce_is_unreachable(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    await browser.connect()
    row = await connection_row(app)
    assert row is not None
    async with app.state.services.db.transaction() as session:
        stored = await session.get(Connection, row.id)
        assert stored is not None
        stored.login_url = "http://127.0.0.1:1"  # nothing listens there

    response = await browser.disconnect()

    assert response.status_code == 204
    assert await connection_row(app) is None


async def test_a_failing_purge_hook_does_not_block_the_disconnect(
    browser: Browser, app: Any
) -> None:
    async def broken(workspace_id: str) -> None:
        raise RuntimeError("cache down")

    app.state.services.invalidation.on_disconnect.append(broken)
    await browser.connect()

    assert (await browser.disconnect()).status_code == 204
    assert await connection_row(app) is None


async def test_reconnect_after_disconnect_is_a_new_connection(browser: Browser, app: Any) -> None:
    await browser.connect()
    await add_settings(app)
    first = await connection_row(app)
    assert first is not None
    assert (await browser.disconnect()).status_code == 204

    response = await browser.connect()

    assert response.status_code == 200
    assert "Salesforce connected" in response.text
    second = await connection_row(app)
    assert second is not None
    assert second.id != first.id  # the cache generation moves on
    assert second.webhook_key_hash != first.webhook_key_hash
    assert (await browser.status())["status"] == "connected"
    async with app.state.services.db.transaction() as session:
        kept = await session.get(WorkspaceSettings, "ws-1")
    assert kept is not None and kept.editing_enabled


async def test_disconnect_leaves_other_workspaces_alone(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    await browser.connect("ws-1")
    await browser.connect("ws-2")

    assert (await browser.disconnect("ws-1")).status_code == 204

    assert (await browser.status("ws-2"))["status"] == "connected"
    records = await app.state.services.salesforce.query("ws-2", "SELECT Name FROM Organization")
    assert records[0]["Name"] == "Acme Corporation"
