"""Reconciliation: Contacts created since the watermark are found without any webhook."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from app.autocreate.ingest import ContactSeen
from app.autocreate.outcomes import AUTO_CREATED_TAG
from app.autocreate.reconcile import contacts_created_since_soql
from app.config import Settings
from app.models import AutocreateWorkspace
from app.salesforce.values import parse_datetime
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    ACME,
    Workspace,
    add_contacts,
    ago,
    connect_workspace,
    deliver,
    reconciler_of,
    rows,
    running_worker,
    settled,
    wait_until,
)


def test_soql_has_unquoted_datetimes_and_keyset_paging() -> None:
    since = datetime(2026, 11, 25, 10, 0, 0, 500_000, tzinfo=UTC)
    first = contacts_created_since_soql(["Id", "Email"], since, 2000)
    assert first == (
        "SELECT Id, Email FROM Contact WHERE CreatedDate >= 2026-11-25T10:00:00Z "
        "ORDER BY CreatedDate ASC, Id ASC LIMIT 2000"
    )
    after = contacts_created_since_soql(["Id"], since, 10, (since, "0035g0000006SevAAE"))
    assert "(CreatedDate > 2026-11-25T10:00:00Z OR (CreatedDate = 2026-11-25T10:00:00Z" in after
    assert "Id > '0035g0000006SevAAE'" in after
    for bad in (["Id; DELETE"], ["Name' OR '1'='1"]):
        try:
            contacts_created_since_soql(bad, since, 1)
        except ValueError:
            continue
        raise AssertionError("unsafe field name accepted")


def test_salesforce_datetimes_in_both_wire_forms() -> None:
    expected = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert parse_datetime("2026-11-24T10:00:00.000Z") == expected
    assert parse_datetime("2026-11-24T10:00:00.000+0000") == expected
    assert parse_datetime("2026-11-24T18:00:00.000+0800") == expected
    assert parse_datetime("yesterday") is None
    assert ContactSeen.from_fields({"Id": "003x", "Email": "  "}).email is None


async def test_reconciliation_creates_contacts_created_since_enabling(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    auth: Any,
) -> None:
    before = sf_emulator.add_contact(
        ACME, {"LastName": "Before", "Email": "before@example.com"}, created_date=ago(7200)
    )
    ids = add_contacts(sf_emulator, 3)
    speaker = sf_emulator.add_contact(
        ACME,
        {
            "FirstName": "Siti",
            "LastName": "Aminah",
            "Email": "siti@example.com",
            "Preferred_Language__c": "Malay",
        },
        created_date=ago(10),
    )
    async with running_worker(settings, jobs=True, reconcile=True):
        await wait_until(lambda: settled(app, 4))
    stored = await rows(app)
    assert sorted(r.salesforce_contact_id for r in stored) == sorted([*ids, speaker["Id"]])
    assert before["Id"] not in {r.salesforce_contact_id for r in stored}
    assert {(r.status, r.source) for r in stored} == {("created", "reconcile")}
    contacts = {c["email"]: c for c in rio.contacts(workspace.token)}
    assert set(contacts) == {
        "person0@example.com",
        "person1@example.com",
        "person2@example.com",
        "siti@example.com",
    }
    assert contacts["siti@example.com"]["language"] == "ms"
    assert all(c["tags"] == [AUTO_CREATED_TAG] for c in contacts.values())

    status = (
        await client.get(
            f"/v1/workspaces/{workspace.id}/salesforce/auto-create/status",
            headers=auth(workspace.id),
        )
    ).json()
    assert status["created"] == 4 and status["pending"] == 0
    assert status["last_reconciled_at"] is not None
    newest = parse_datetime(sf_emulator.get_contact(ACME, speaker["Id"])["CreatedDate"])
    assert datetime.fromisoformat(status["watermark"]) == newest


async def test_webhook_and_reconciliation_together_create_once(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    ids = add_contacts(sf_emulator, 5)
    async with running_worker(settings):
        await deliver(client, sf_emulator, workspace.webhook_path, ids[:3])
        await wait_until(lambda: settled(app, 5))
        # Two more reconciliations of the workspace, run here rather than waited for.
        reconciler = reconciler_of(app, settings)
        for _ in range(2):
            await reconciler.reconcile(workspace.id)
        await wait_until(lambda: settled(app, 5))
    assert len(await rows(app)) == 5
    assert len(rio.contacts(workspace.token)) == 5
    assert rio.counters["contact.create"] == 5


async def test_reconciliation_pages_through_a_bulk_import_in_one_second(
    app: Any, sf_emulator: Any, rio: RespondioEmulator, settings: Settings
) -> None:
    ws = await connect_workspace(app, sf_emulator, "ws-pages", include_bulk_imports=True)
    sf_emulator.bulk_create_contacts(ACME, 23, created_date=ago(20))
    small_pages = settings.model_copy(update={"autocreate_reconcile_page_size": 7})
    async with running_worker(small_pages):
        await wait_until(lambda: settled(app, 23))
    stored = await rows(app)
    assert len(stored) == 23 and {r.bulk_import for r in stored} == {True}
    assert len(rio.contacts(ws.token)) == 23


async def test_one_replica_reconciles_a_workspace_per_interval(
    app: Any, sf_emulator: Any, settings: Settings, workspace: Workspace
) -> None:
    slow = settings.model_copy(update={"autocreate_reconcile_interval_seconds": 3600})
    replicas = [reconciler_of(app, slow) for _ in range(4)]
    claims = await asyncio.gather(*(r.claim_due_workspaces() for r in replicas))
    assert sorted(ws for claim in claims for ws in claim) == [workspace.id]
    assert await replicas[0].claim_due_workspaces() == []


async def test_salesforce_failure_is_recorded_and_the_watermark_kept(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    settings: Settings,
    workspace: Workspace,
    auth: Any,
) -> None:
    add_contacts(sf_emulator, 1)
    reconciler = reconciler_of(app, settings)
    assert await reconciler.claim_due_workspaces() == [workspace.id]
    sf_emulator.set_fault(ACME, "server_unavailable")
    try:
        assert await reconciler.reconcile(workspace.id) == 0
    finally:
        sf_emulator.set_fault(ACME, None)
    async with app.state.services.db.transaction() as session:
        state = await session.get(AutocreateWorkspace, workspace.id)
    assert state is not None and state.watermark is None and state.last_error
    status = (
        await client.get(
            f"/v1/workspaces/{workspace.id}/salesforce/auto-create/status",
            headers=auth(workspace.id),
        )
    ).json()
    assert status["last_error"]["source"] == "reconciliation"
    assert await reconciler.reconcile(workspace.id) == 1
