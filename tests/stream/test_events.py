"""What change events do: a Contact created in Salesforce is auto-created once whatever else
saw it; a change drops the record's cached lookup answers on every replica; gap events are
read back; the service's own edits cost nothing; `change_stream` on the connection."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from app.config import Settings
from app.main import create_app
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    ACME,
    Workspace,
    deliver,
    rows,
    running_worker,
    settled,
    wait_until,
)
from tests.helpers.database import truncate_all
from tests.helpers.lookups import lookup, put_settings
from tests.stream.helpers import stream_row, wait_for_events, wait_for_state


async def test_a_contact_created_in_salesforce_is_auto_created_once(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    sf_emulator: Any,
    rio: RespondioEmulator,
    workspace: Workspace,
) -> None:
    async with running_worker(settings, reconcile=False):
        await wait_for_state(app, "streaming")
        record = sf_emulator.add_contact(
            ACME, {"FirstName": "Rita", "LastName": "Stream", "Email": "rita@example.com"}
        )

        async def stored() -> bool:
            return any(r.salesforce_contact_id == record["Id"] for r in await rows(app))

        await wait_until(stored)
        # The Outbound Message of the same Contact arrives as well: still one contact.
        await deliver(client, sf_emulator, workspace.webhook_path, [record["Id"]])
        await wait_until(lambda: settled(app, 1))
    [row] = await rows(app)
    assert row.source == "stream" and row.status == "created"
    created = [c for c in rio.contacts(workspace.token) if c.get("email") == "rita@example.com"]
    assert len(created) == 1


async def test_a_change_in_salesforce_drops_cached_answers_on_every_replica(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as second:
            replicas = [(client, app), (second, other)]
            async with running_worker(settings, jobs=False, reconcile=False):
                await wait_for_state(app, "streaming")
                for http, _ in replicas:
                    first = await lookup(http, auth, email="ana.souza@example.com")
                    assert first.status_code == 200, first.text
                    again = await lookup(http, auth, email="ana.souza@example.com")
                    assert again.json()["cached"] is True
                ana = first.json()["contact"]["id"]
                sf_emulator.update_contact(ACME, ana, {"Title": "Head of Support"})
                for _, replica in replicas:
                    listener = replica.state.services.stream_listener
                    await wait_until(lambda listener=listener: _received(listener, 1))
                for http, _ in replicas:
                    fresh = await lookup(http, auth, email="ana.souza@example.com")
                    body = fresh.json()
                    assert body["cached"] is False
                    fields = {f["name"]: f["value"] for f in body["contact"]["fields"]}
                    assert fields["Title"] == "Head of Support"


async def _received(listener: Any, count: int) -> bool:
    return listener.changes >= count


async def test_a_new_email_drops_the_cached_miss_for_it(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        miss = await lookup(client, auth, email="newcomer@example.com")
        assert miss.json()["matched"] is False
        assert (await lookup(client, auth, email="newcomer@example.com")).json()["cached"]
        sf_emulator.add_contact(ACME, {"LastName": "Newcomer", "Email": "newcomer@example.com"})
        listener = app.state.services.stream_listener
        await wait_until(lambda: _received(listener, 1))
        found = (await lookup(client, auth, email="newcomer@example.com")).json()
        assert found["matched"] is True and found["cached"] is False


async def test_the_services_own_edits_are_recognised_and_cost_nothing(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    await put_settings(client, auth, editing_enabled=True)
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        found = (await lookup(client, auth, email="ana.souza@example.com")).json()
        contact_id = found["contact"]["id"]
        edited = await client.patch(
            f"/v1/workspaces/ws-1/salesforce/contacts/{contact_id}",
            json={"fields": {"Title": "Edited here"}},
            headers=auth("ws-1", "agent"),
        )
        assert edited.status_code == 200, edited.text
        await wait_for_events(app, 1)
        calls = sf_emulator.counters["api"]
        listener = app.state.services.stream_listener
        after = (await lookup(client, auth, email="ana.souza@example.com")).json()
        assert after["cached"] is True
        assert sf_emulator.counters["api"] == calls
        assert listener.changes == 0  # nothing to drop: the edit updated the caches itself
    fields = {f["name"]: f["value"] for f in after["contact"]["fields"]}
    assert fields["Title"] == "Edited here"


async def test_gap_events_read_the_records_back(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    sf_emulator: Any,
    rio: RespondioEmulator,
    workspace: Workspace,
) -> None:
    async with running_worker(settings, reconcile=False):
        await wait_for_state(app, "streaming")
        record = sf_emulator.add_contact(ACME, {"LastName": "Gap", "Email": "gap@example.com"})
        await wait_for_events(app, 1)
        await wait_until(lambda: settled(app, 1))
        async with app.state.services.db.transaction() as session:
            await session.execute(text("DELETE FROM autocreate_contacts"))
        async with httpx.AsyncClient(base_url=sf_emulator.base_url) as admin:
            answer = await admin.post(
                f"/__emulator/orgs/{ACME}/change-data-capture/gap-events",
                json={"entity": "Contact", "change_type": "GAP_CREATE", "ids": [record["Id"]]},
            )
        assert answer.status_code == 201
        calls = sf_emulator.counters["api"]

        async def read_back() -> bool:
            return any(r.salesforce_contact_id == record["Id"] for r in await rows(app))

        await wait_until(read_back)
        assert sf_emulator.counters["api"] > calls  # the record was read from Salesforce
    [row] = await rows(app)
    assert row.source == "stream"


async def test_the_connection_says_whether_the_org_streams(
    app: Any, client: httpx.AsyncClient, auth: Any, settings: Settings, workspace: Workspace
) -> None:
    url = "/v1/workspaces/ws-1/salesforce/connection"
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        view = (await client.get(url, headers=auth("ws-1", "owner"))).json()
        assert view["change_stream"]["state"] == "streaming"
        assert view["change_stream"]["reason"] is None
    row = await stream_row(app)
    assert row is not None and row.owner is None  # released on stop


async def test_with_the_stream_off_the_connection_says_disabled(
    make_settings: Any, sf_emulator: Any, auth: Any
) -> None:
    from tests.helpers.autocreate import connect_workspace

    settings = make_settings(
        salesforce_login_url=sf_emulator.base_url,
        salesforce_extra_allowed_hosts=sf_emulator.base_url.split("://", 1)[1],
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await connect_workspace(application, sf_emulator, "ws-off")
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            url = "/v1/workspaces/ws-off/salesforce/connection"
            view = (await http.get(url, headers=auth("ws-off", "owner"))).json()
    await truncate_all(settings.async_database_url)  # the app fixture's clean-up, done here
    assert view["change_stream"]["state"] == "disabled"


async def test_a_bulk_import_flows_through_one_stream_topped_up_a_batch_at_a_time(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace
) -> None:
    """250 Contacts at once: the emulator refuses more than 100 outstanding, so they all
    arrive only if each batch is topped up on the same request stream."""
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        subscribes = sf_emulator.pubsub.subscribes
        imported = sf_emulator.bulk_create_contacts(ACME, 250)
        await wait_for_events(app, 250)
        assert sf_emulator.pubsub.subscribes == subscribes  # never resubscribed
    stored = {r.salesforce_contact_id for r in await rows(app)}
    assert stored == {r["Id"] for r in imported}


async def test_lead_changes_drop_cached_lead_answers(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    current = await put_settings(client, auth)
    await put_settings(client, auth, leads={**current["leads"], "enabled": True})
    lead = sf_emulator.add_lead(
        ACME, {"LastName": "Lead", "Company": "Acme", "Email": "only.lead@example.com"}
    )
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        first = (await lookup(client, auth, email="only.lead@example.com")).json()
        assert first["matched"] is True
        assert (await lookup(client, auth, email="only.lead@example.com")).json()["cached"]
        sf_emulator.update_record(ACME, "Lead", lead["Id"], {"Title": "Buyer"})
        listener = app.state.services.stream_listener
        await wait_until(lambda: _received(listener, 1))
        again = (await lookup(client, auth, email="only.lead@example.com")).json()
    assert again["cached"] is False


async def test_a_silent_stream_is_opened_again_by_the_watchdog(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace
) -> None:
    sf_emulator.pubsub.keepalive_seconds = 3600.0  # a stream that went quiet for good
    quiet = settings.model_copy(update={"change_stream_silence_seconds": 1.5})
    async with running_worker(quiet, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        subscribes = sf_emulator.pubsub.subscribes
        await wait_until(lambda: _subscribed_since(sf_emulator, subscribes))
        created = sf_emulator.add_contact(ACME, {"LastName": "Quiet", "Email": "q@example.com"})
        await wait_for_events(app, 1)
    assert {r.salesforce_contact_id for r in await rows(app)} == {created["Id"]}


async def _subscribed_since(sf_emulator: Any, count: int) -> bool:
    return sf_emulator.pubsub.subscribes > count
