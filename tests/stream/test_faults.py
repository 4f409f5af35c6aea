"""Where the stream breaks: a replay id Salesforce no longer keeps (reconcile, then resume),
a dropped stream (resubscribed from the stored replay id, nothing lost), an expired access
token (refreshed, resubscribed), and orgs without a stream (`unavailable` with the reason)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.models import AutocreateWorkspace
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    ACME,
    Workspace,
    rows,
    running_worker,
    settled,
    wait_until,
)
from tests.helpers.factories import grant_from_emulator, insert_connection
from tests.helpers.lookups import lookup
from tests.stream.helpers import stream_row, wait_for_events, wait_for_state

CDC = "/__emulator/orgs/{org}/change-data-capture"


async def emulator_post(sf_emulator: Any, path: str, body: Any = None) -> httpx.Response:
    """POST to the emulator's control API; a body to the switches' own path is a PUT."""
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as admin:
        if body is None or path.endswith("/gap-events"):
            return await admin.post(path, json=body)
        return await admin.put(path, json=body)


INITECH = "00D4w0000021va5EAA"  # Professional Edition: no Change Data Capture


async def connect_initech(app: Any, sf_emulator: Any) -> None:
    grant = await grant_from_emulator(sf_emulator.base_url, "admin@initech.example")
    services = app.state.services
    await insert_connection(
        services.db, services.cipher, "ws-initech", grant, login_url=sf_emulator.base_url
    )


async def sources(app: Any) -> dict[str, str]:
    return {r.salesforce_contact_id: r.source for r in await rows(app)}


@pytest.fixture
def slow_reconcile(settings: Settings) -> Settings:
    """Reconciliation once at start-up, then not for an hour: only a resync runs it again."""
    return settings.model_copy(update={"autocreate_reconcile_interval_seconds": 3600.0})


async def test_an_expired_replay_id_reconciles_then_resumes(
    app: Any,
    slow_reconcile: Settings,
    sf_emulator: Any,
    rio: RespondioEmulator,
    workspace: Workspace,
) -> None:
    async with running_worker(slow_reconcile):
        await wait_for_state(app, "streaming")
        before = sf_emulator.add_contact(ACME, {"LastName": "Before", "Email": "b1@example.com"})
        await wait_for_events(app, 1)
        await wait_until(lambda: settled(app, 1))
    # Nobody listens while this Contact is created, and then the replay ids expire.
    missed = sf_emulator.add_contact(ACME, {"LastName": "Missed", "Email": "m1@example.com"})
    expired = await emulator_post(sf_emulator, CDC.format(org=ACME) + "/expire-replay-ids")
    assert expired.is_success
    async with running_worker(slow_reconcile):
        await wait_until(lambda: settled(app, 2))
        await wait_for_state(app, "streaming")
        after = sf_emulator.add_contact(ACME, {"LastName": "After", "Email": "a1@example.com"})
        await wait_until(lambda: settled(app, 3))
    found = await sources(app)
    assert found == {
        before["Id"]: "stream",
        missed["Id"]: "reconcile",  # found by the reconciliation the expired id started
        after["Id"]: "stream",
    }
    emails = sorted(c.get("email") for c in rio.contacts(workspace.token))
    assert emails == ["a1@example.com", "b1@example.com", "m1@example.com"]


async def test_a_dropped_stream_resumes_from_the_stored_replay_id(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace
) -> None:
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        first = sf_emulator.add_contact(ACME, {"LastName": "First", "Email": "f@example.com"})
        await wait_for_events(app, 1)
        subscribes = sf_emulator.pubsub.subscribes
        dropped = await emulator_post(sf_emulator, CDC.format(org=ACME) + "/drop-streams")
        assert dropped.is_success
        during = sf_emulator.add_contact(ACME, {"LastName": "During", "Email": "d@example.com"})
        await wait_for_events(app, 2)
        assert sf_emulator.pubsub.subscribes > subscribes  # a new Subscribe call
    row = await stream_row(app)
    assert row is not None and row.events == 2
    assert await sources(app) == {first["Id"]: "stream", during["Id"]: "stream"}


async def test_an_expired_token_is_refreshed_and_the_stream_resubscribed(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace
) -> None:
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        sf_emulator.expire_access_tokens(ACME)
        await emulator_post(sf_emulator, CDC.format(org=ACME) + "/drop-streams")
        await wait_until(lambda: _refreshed(sf_emulator))
        later = sf_emulator.add_contact(ACME, {"LastName": "Later", "Email": "l@example.com"})
        await wait_for_events(app, 1)
    assert await sources(app) == {later["Id"]: "stream"}


async def _refreshed(sf_emulator: Any) -> bool:
    return any("refresh" in key for key, n in sf_emulator.counters.items() if n)


async def test_contact_not_selected_says_unavailable_and_why(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    put = await emulator_post(sf_emulator, CDC.format(org=ACME), {"selected": ["Lead"]})
    assert put.json()["selected"] == ["Lead"]
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "unavailable")
        view = (
            await client.get("/v1/workspaces/ws-1/salesforce/connection", headers=auth())
        ).json()
    assert view["change_stream"]["state"] == "unavailable"
    assert "Contact is not selected" in view["change_stream"]["reason"]


async def test_an_edition_without_change_data_capture_says_unavailable(
    app: Any, settings: Settings, sf_emulator: Any
) -> None:
    await connect_initech(app, sf_emulator)
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "unavailable", org=INITECH)
    row = await stream_row(app, INITECH)
    assert row is not None and "Professional Edition" in (row.reason or "")


async def test_one_orgs_failure_never_holds_another(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace
) -> None:
    await connect_initech(app, sf_emulator)
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "unavailable", org=INITECH)
        await wait_for_state(app, "streaming")
        created = sf_emulator.add_contact(ACME, {"LastName": "Other", "Email": "o@example.com"})
        await wait_for_events(app, 1)
    assert await sources(app) == {created["Id"]: "stream"}


async def test_a_used_up_delivery_allocation_says_unavailable(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace
) -> None:
    put = await emulator_post(sf_emulator, CDC.format(org=ACME), {"delivery_allocation": 0})
    assert put.json()["delivery_allocation"] == 0
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        sf_emulator.add_contact(ACME, {"LastName": "Over", "Email": "over@example.com"})
        await wait_for_state(app, "unavailable")
    row = await stream_row(app)
    assert row is not None and row.reason == "event delivery allocation used up"


async def test_an_overflow_reconciles_and_drops_every_answer(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    slow_reconcile: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    async def last_reconciled() -> Any:
        async with app.state.services.db.transaction() as session:
            state = await session.get(AutocreateWorkspace, workspace.id)
            return state.last_reconciled_at if state is not None else None

    async with running_worker(slow_reconcile):
        await wait_for_state(app, "streaming")
        await wait_until(lambda: _is_set(last_reconciled))
        before = await last_reconciled()
        assert (await lookup(client, auth, email="ana.souza@example.com")).status_code == 200
        assert (await lookup(client, auth, email="ana.souza@example.com")).json()["cached"]
        overflow = await emulator_post(
            sf_emulator,
            CDC.format(org=ACME) + "/gap-events",
            {"entity": "Contact", "change_type": "GAP_OVERFLOW", "ids": []},
        )
        assert overflow.status_code == 201

        async def reconciled_again() -> bool:
            after = await last_reconciled()
            return after is not None and after > before

        await wait_until(reconciled_again)
        listener = app.state.services.stream_listener
        await wait_until(lambda: _changed(listener))
        assert not (await lookup(client, auth, email="ana.souza@example.com")).json()["cached"]


async def _is_set(read: Any) -> bool:
    return (await read()) is not None


async def _changed(listener: Any) -> bool:
    return listener.changes >= 1


async def test_a_workspace_with_unusable_credentials_does_not_keep_the_org_from_streaming(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace
) -> None:
    grant = await grant_from_emulator(sf_emulator.base_url, "admin@acme.example")
    services = app.state.services
    # Connected before ws-1, to a host this service never sends credentials to.
    stale = {**grant, "instance_url": "http://127.0.0.1:9"}
    await insert_connection(services.db, services.cipher, "ws-0", stale, login_url="x")
    async with services.db.transaction() as session:
        await session.execute(
            text(
                "UPDATE salesforce_connections SET connected_at = now() - interval '1 day' "
                "WHERE workspace_id = 'ws-0'"
            )
        )
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        created = sf_emulator.add_contact(ACME, {"LastName": "Usable", "Email": "u@example.com"})
        await wait_for_events(app, 1)
    assert created["Id"] in await sources(app)
