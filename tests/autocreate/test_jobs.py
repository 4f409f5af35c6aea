"""Jobs end to end: Salesforce emulator → webhook → PgQueuer → workers → respond.io emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import update

from app.autocreate.outcomes import AUTO_CREATED_TAG
from app.config import Settings
from app.models import AutocreateContact, Connection
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    ACME,
    ACME_SALES_USER,
    Workspace,
    acked,
    add_contacts,
    ago,
    connect_workspace,
    deliver,
    post_soap,
    rows,
    running_worker,
    settled,
    wait_until,
)
from tests.helpers.factories import set_auto_create

WEBHOOK_ONLY = {"reconcile": False}


async def test_contact_created_in_salesforce_appears_once_tagged(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    record = sf_emulator.add_contact(
        ACME,
        {
            "FirstName": "Ana",
            "LastName": "Souza",
            "Email": "ana.souza@example.com",
            "MobilePhone": "+60 12-345 6789",
            "Preferred_Language__c": "Malay",
        },
        created_date=ago(60),
    )
    [response] = await deliver(client, sf_emulator, workspace.webhook_path, [record["Id"]])
    assert acked(response)
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 1))
    [row] = await rows(app)
    assert (row.status, row.reason, row.source) == ("created", None, "webhook")
    assert row.respondio_identifier == "email:ana.souza@example.com"
    assert row.email is None  # contact data is not kept once the outcome is settled
    [contact] = rio.contacts(workspace.token)
    assert contact["email"] == "ana.souza@example.com"
    assert (contact["firstName"], contact["lastName"]) == ("Ana", "Souza")
    assert contact["phone"] == "+60123456789"
    assert contact["tags"] == [AUTO_CREATED_TAG]
    assert rio.counters["contact.created"] == 1


async def test_no_tag_when_add_tag_is_off(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
) -> None:
    ws = await connect_workspace(app, sf_emulator, "ws-notag", add_tag=False)
    await deliver(client, sf_emulator, ws.webhook_path, add_contacts(sf_emulator, 1))
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 1))
    [contact] = rio.contacts(ws.token)
    assert contact["tags"] == []
    assert rio.counters["contact.tag"] == 0


async def test_same_message_delivered_three_times_creates_one_contact(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    from emulator.salesforce.outbound import build_deliveries

    ids = add_contacts(sf_emulator, 1)
    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver/x", ids)
    async with running_worker(settings, **WEBHOOK_ONLY):
        for _ in range(3):
            assert acked(await post_soap(client, workspace.webhook_path, delivery.body))
            await asyncio.sleep(0.3)
        await wait_until(lambda: settled(app, 1))
    assert len(rio.contacts(workspace.token)) == 1
    assert rio.counters["contact.create"] == 1


async def test_batch_of_100_notifications_creates_100_contacts(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    ids = add_contacts(sf_emulator, 100)
    [response] = await deliver(client, sf_emulator, workspace.webhook_path, ids)
    assert acked(response)
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 100))
    assert {r.status for r in await rows(app)} == {"created"}
    emails = sorted(c["email"] for c in rio.contacts(workspace.token))
    assert emails == sorted(f"person{i}@example.com" for i in range(100))


async def test_bulk_import_is_skipped_unless_included(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    bulk = sf_emulator.bulk_create_contacts(ACME, 20, created_date=ago(30))
    # Same second, another user, below the threshold: an ordinary creation.
    single = sf_emulator.add_contact(
        ACME,
        {"LastName": "Manual", "Email": "manual@example.com"},
        created_by=ACME_SALES_USER,
        created_date=bulk[0]["CreatedDate"],
    )
    ids = [r["Id"] for r in bulk] + [single["Id"]]
    await deliver(client, sf_emulator, workspace.webhook_path, ids)
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 21))
    outcomes = {
        r.salesforce_contact_id: (r.status, r.reason, r.bulk_import) for r in await rows(app)
    }
    assert outcomes.pop(single["Id"]) == ("created", None, False)
    assert set(outcomes.values()) == {("skipped", "bulk_import", True)}
    assert [c["email"] for c in rio.contacts(workspace.token)] == ["manual@example.com"]


async def test_bulk_import_included_is_created_and_marked(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
) -> None:
    ws = await connect_workspace(app, sf_emulator, "ws-bulk", include_bulk_imports=True)
    bulk = sf_emulator.bulk_create_contacts(ACME, 20, created_date=ago(30))
    await deliver(client, sf_emulator, ws.webhook_path, [r["Id"] for r in bulk])
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 20))
    assert {(r.status, r.bulk_import) for r in await rows(app)} == {("created", True)}
    contacts = rio.contacts(ws.token)
    assert len(contacts) == 20
    marker = settings.autocreate_bulk_marker_tag
    assert all(c["tags"] == [AUTO_CREATED_TAG, marker] for c in contacts)


async def test_contact_without_email_or_phone_is_skipped(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    bare = sf_emulator.add_contact(ACME, {"LastName": "Nobody"}, created_date=ago(50))
    unreadable = sf_emulator.add_contact(
        ACME, {"LastName": "Typo", "Phone": "call me"}, created_date=ago(40)
    )
    phone_only = sf_emulator.add_contact(
        ACME, {"LastName": "Phone", "Phone": "(415) 555-0132"}, created_date=ago(30)
    )
    ids = [bare["Id"], unreadable["Id"], phone_only["Id"]]
    await deliver(client, sf_emulator, workspace.webhook_path, ids)
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 3))
    outcomes = {r.salesforce_contact_id: (r.status, r.reason) for r in await rows(app)}
    assert outcomes[bare["Id"]] == ("skipped", "no_identifier")
    assert outcomes[unreadable["Id"]] == ("skipped", "no_identifier")
    assert outcomes[phone_only["Id"]] == ("created", None)
    [contact] = rio.contacts(workspace.token)
    assert contact["phone"] == "+14155550132"  # default region US
    assert contact["firstName"] == "Phone"


async def test_existing_respondio_contact_is_not_duplicated(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            settings.respondio_api_base_url + "/contact/email:person0@example.com",
            json={"firstName": "Already", "email": "person0@example.com"},
            headers={"Authorization": f"Bearer {workspace.token}"},
        )
        assert response.status_code == 200
    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 1))
    [row] = await rows(app)
    assert (row.status, row.reason) == ("skipped", "already_exists")
    [contact] = rio.contacts(workspace.token)
    assert contact["firstName"] == "Already"  # untouched, untagged
    assert contact["tags"] == []


async def test_contact_created_before_a_crash_is_finished_not_skipped(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    """The create reached respond.io, then the worker died before recording it: the retry
    sees the marker, finds the contact, and tags it instead of calling it pre-existing."""
    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    async with httpx.AsyncClient() as http:
        await http.post(
            settings.respondio_api_base_url + "/contact/email:person0@example.com",
            json={"firstName": "P0", "email": "person0@example.com"},
            headers={"Authorization": f"Bearer {workspace.token}"},
        )
    async with app.state.services.db.transaction() as session:
        await session.execute(update(AutocreateContact).values(create_sent_at=ago(5)))
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 1))
    [row] = await rows(app)
    assert (row.status, row.reason) == ("created", None)
    [contact] = rio.contacts(workspace.token)
    assert contact["tags"] == [AUTO_CREATED_TAG]


async def test_429_then_200_reschedules_without_using_an_attempt(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    rio.fail_next(2, status=429, retry_after=0.3)
    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 1))
    [row] = await rows(app)
    assert (row.status, row.attempts) == ("created", 0)
    assert rio.counters["429"] == 2
    assert len(rio.contacts(workspace.token)) == 1


async def test_respondio_down_for_a_while_then_back_loses_nothing(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    rio.configure(outage=True)
    ids = add_contacts(sf_emulator, 5)
    await deliver(client, sf_emulator, workspace.webhook_path, ids)
    patient = settings.model_copy(update={"autocreate_max_attempts": 100})

    async def retried_twice() -> bool:
        current = await rows(app)
        return len(current) == 5 and all(r.attempts >= 2 for r in current)

    async with running_worker(patient, **WEBHOOK_ONLY):
        await wait_until(retried_twice)
        assert len(rio.contacts(workspace.token)) == 0
        rio.configure(outage=False)
        await wait_until(lambda: settled(app, 5))
    assert {r.status for r in await rows(app)} == {"created"}
    assert len(rio.contacts(workspace.token)) == 5


async def test_after_max_attempts_the_job_is_parked_as_failed(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    auth: Any,
) -> None:
    rio.configure(outage=True)
    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    impatient = settings.model_copy(update={"autocreate_max_attempts": 3})
    async with running_worker(impatient, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 1))
    [row] = await rows(app)
    assert (row.status, row.reason, row.attempts) == ("failed", "respondio_unavailable", 3)
    assert "503" in (row.last_error or "")
    assert row.email == "person0@example.com"  # kept for a re-run
    status = (
        await client.get(
            f"/v1/workspaces/{workspace.id}/salesforce/auto-create/status",
            headers=auth(workspace.id),
        )
    ).json()
    assert status["failed"] == {"total": 1, "by_reason": {"respondio_unavailable": 1}}
    assert status["last_error"]["source"] == "job"


async def test_missing_or_rejected_token_is_parked(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    rio.allowed_tokens = frozenset({"some-other-token"})
    try:
        await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
        async with running_worker(settings, **WEBHOOK_ONLY):
            await wait_until(lambda: settled(app, 1))
    finally:
        rio.allowed_tokens = None
    [row] = await rows(app)
    assert (row.status, row.reason) == ("failed", "respondio_unauthorized")


async def test_jobs_found_disabled_or_disconnected_are_parked_not_retried(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
) -> None:
    off = await connect_workspace(app, sf_emulator, "ws-off")
    reauth = await connect_workspace(app, sf_emulator, "ws-reauth")
    await deliver(client, sf_emulator, off.webhook_path, add_contacts(sf_emulator, 1, prefix="a"))
    await deliver(
        client, sf_emulator, reauth.webhook_path, add_contacts(sf_emulator, 1, prefix="b")
    )
    await set_auto_create(app.state.services.db, off.id, enabled=False)
    async with app.state.services.db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.workspace_id == reauth.id)
            .values(status="reauthorization_required")
        )
    async with running_worker(settings, **WEBHOOK_ONLY):
        await wait_until(lambda: settled(app, 2))
    outcomes = {r.workspace_id: (r.status, r.reason, r.attempts) for r in await rows(app)}
    assert outcomes == {
        "ws-off": ("skipped", "auto_create_disabled", 0),
        "ws-reauth": ("skipped", "reauthorization_required", 0),
    }
    assert rio.counters["requests"] == 0


async def test_two_workers_at_once_create_each_contact_once(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    ids = add_contacts(sf_emulator, 60)
    await deliver(client, sf_emulator, workspace.webhook_path, ids, batch_size=20)
    rio.configure(latency_ms=20)
    async with running_worker(settings), running_worker(settings):
        await wait_until(lambda: settled(app, 60))
    assert {r.status for r in await rows(app)} == {"created"}
    contacts = rio.contacts(workspace.token)
    assert len(contacts) == 60
    assert len({c["email"] for c in contacts}) == 60
    assert rio.counters["contact.create"] == 60


async def test_a_pending_row_whose_job_vanished_is_requeued(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    database_url: str,
) -> None:
    import asyncpg

    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("DELETE FROM pgqueuer")
    finally:
        await conn.close()
    async with app.state.services.db.transaction() as session:
        await session.execute(update(AutocreateContact).values(next_attempt_at=ago(60)))
    async with running_worker(settings):
        await wait_until(lambda: settled(app, 1))
    [row] = await rows(app)
    assert row.status == "created"
