"""A Contact whose data PostgreSQL cannot store (a NUL character) is isolated: recorded as
skipped with its reason, while the watermark moves on and later Contacts are created."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from app.config import Settings
from app.models import AutocreateWorkspace
from app.salesforce.values import parse_datetime
from emulator.respondio import RespondioEmulator
from emulator.salesforce.outbound import build_deliveries
from tests.helpers.autocreate import (
    ACME,
    Workspace,
    acked,
    ago,
    job_runner,
    post_soap,
    reconciler_of,
    rows,
    run_pending,
    seed_contact,
)


async def test_a_nul_in_a_name_does_not_block_reconciliation(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    auth: Any,
) -> None:
    bad = await seed_contact(
        sf_emulator,
        {"FirstName": "Bad\u0000Name", "LastName": "Nul", "Email": "nul@example.com"},
        ago(30),
    )
    good = await seed_contact(
        sf_emulator,
        {"FirstName": "Good", "LastName": "Later", "Email": "good@example.com"},
        ago(20),
    )
    reconciler = reconciler_of(app, settings)
    assert await reconciler.claim_due_workspaces() == [workspace.id]
    assert await reconciler.reconcile(workspace.id) == 1
    outcomes = {r.salesforce_contact_id: (r.status, r.reason) for r in await rows(app)}
    assert outcomes == {bad: ("skipped", "invalid_characters"), good: ("pending", None)}
    async with app.state.services.db.transaction() as session:
        state = await session.get(AutocreateWorkspace, workspace.id)
    newest = parse_datetime(sf_emulator.get_contact(ACME, good)["CreatedDate"])
    assert state is not None and state.watermark == newest and state.last_error is None

    async with job_runner(settings) as jobs:
        await run_pending(app, jobs)
    assert [c["email"] for c in rio.contacts(workspace.token)] == ["good@example.com"]

    # The next pass (overlapping the watermark) reads the bad Contact again and moves on.
    assert await reconciler.reconcile(workspace.id) == 0
    status = (
        await client.get(
            f"/v1/workspaces/{workspace.id}/salesforce/auto-create/status",
            headers=auth(workspace.id),
        )
    ).json()
    assert status["skipped"]["by_reason"] == {"invalid_characters": 1}
    assert status["created"] == 1
    assert status["last_error"]["salesforce_contact_id"] == bad
    assert "NUL" in status["last_error"]["message"]
    assert "FirstName" in status["last_error"]["message"]
    assert datetime.fromisoformat(status["watermark"]) == newest


async def test_a_nul_never_reaches_the_database_from_the_webhook(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    bad = await seed_contact(
        sf_emulator, {"LastName": "Nul\u0000", "Email": "x\u0000@example.com"}, ago(30)
    )
    good = await seed_contact(
        sf_emulator, {"LastName": "Fine", "Email": "fine@example.com"}, ago(20)
    )
    # XML cannot carry a NUL, so the message names the Contacts by id; the NUL arrives with
    # the read-back (JSON can carry it).
    [delivery] = build_deliveries(
        sf_emulator, ACME, "http://testserver/x", [bad, good], fields=["Id", "CreatedDate"]
    )
    assert acked(await post_soap(client, workspace.webhook_path, delivery.body))
    stored = {r.salesforce_contact_id: r for r in await rows(app)}
    assert (stored[bad].status, stored[bad].reason) == ("skipped", "invalid_characters")
    assert stored[bad].email is None and stored[bad].last_name is None
    assert "Email" in (stored[bad].last_error or "") and "LastName" in (
        stored[bad].last_error or ""
    )
    assert stored[good].status == "pending"
    async with job_runner(settings) as jobs:
        await run_pending(app, jobs)
    assert [c["email"] for c in rio.contacts(workspace.token)] == ["fine@example.com"]


async def test_a_nul_written_as_a_character_reference_is_refused_as_xml(
    client: httpx.AsyncClient, app: Any, workspace: Workspace
) -> None:
    body = (
        b'<?xml version="1.0"?><soapenv:Envelope '
        b'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        b'<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        b"<OrganizationId>00D5g000003GIV7EAO</OrganizationId><Notification>"
        b"<Id>04l5g0000000001AAA</Id><sObject><Id>0035g0000009AAAAAA</Id>"
        b"<FirstName>a&#0;b</FirstName></sObject></Notification>"
        b"</notifications></soapenv:Body></soapenv:Envelope>"
    )
    response = await post_soap(client, workspace.webhook_path, body)
    assert response.status_code == 400
    assert await rows(app) == []
