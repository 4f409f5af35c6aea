"""Outbound Messages are hints: every Contact is read back from Salesforce (one query per
message) before anything is created, and deleted, forged or non-Contact ids create nothing."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings
from emulator.respondio import RespondioEmulator
from emulator.salesforce.outbound import build_deliveries
from tests.helpers.autocreate import (
    ACME,
    Workspace,
    acked,
    add_contacts,
    ago,
    job_runner,
    post_soap,
    rows,
    run_pending,
)

LEAD_ID = "00Q5g0000006TPJEA2"  # a seeded Lead (lead.only@example.com)
NEVER_EXISTED = "0035g0000009ZZZAAA"


async def status_of(client: httpx.AsyncClient, auth: Any, ws: Workspace) -> dict[str, Any]:
    response = await client.get(
        f"/v1/workspaces/{ws.id}/salesforce/auto-create/status", headers=auth(ws.id)
    )
    assert response.status_code == 200
    return dict(response.json())


async def test_a_contact_deleted_before_delivery_is_skipped_and_the_rest_stored(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    ids = add_contacts(sf_emulator, 3)
    sf_emulator.delete_contact(ACME, ids[1])
    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver/x", ids)
    assert (
        b'<sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"/>'
        in (delivery.body)
    )
    response = await post_soap(client, workspace.webhook_path, delivery.body)
    assert acked(response)
    stored = {r.salesforce_contact_id: r.status for r in await rows(app)}
    assert stored == {ids[0]: "pending", ids[2]: "pending"}
    async with job_runner(settings) as jobs:
        await run_pending(app, jobs)
    assert sorted(c["email"] for c in rio.contacts(workspace.token)) == [
        "person0@example.com",
        "person2@example.com",
    ]


async def test_salesforce_values_are_used_not_the_message_body(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    record = sf_emulator.add_contact(
        ACME,
        {"FirstName": "Real", "LastName": "Person", "Email": "real@example.com"},
        created_date=ago(60),
    )
    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver/x", [record["Id"]])
    forged = (
        delivery.body.replace(b"real@example.com", b"attacker@example.com")
        .replace(b">Real<", b">Forged<")
        .replace(b">Person<", b">Name<")
    )
    assert b"attacker@example.com" in forged
    assert acked(await post_soap(client, workspace.webhook_path, forged))
    async with job_runner(settings) as jobs:
        await run_pending(app, jobs)
    [contact] = rio.contacts(workspace.token)
    assert contact["email"] == "real@example.com"
    assert (contact["firstName"], contact["lastName"]) == ("Real", "Person")


async def test_one_query_per_message_not_one_per_record(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    ids = add_contacts(sf_emulator, 100)
    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver/x", ids)
    sf_emulator.reset_counters()
    assert acked(await post_soap(client, workspace.webhook_path, delivery.body))
    assert sf_emulator.counters["query.Contact"] == 1
    assert len(await rows(app)) == 100
    # Salesforce delivering the same message again costs no query: nothing in it is new.
    assert acked(await post_soap(client, workspace.webhook_path, delivery.body))
    assert sf_emulator.counters["query.Contact"] == 1


async def test_forged_lead_and_unknown_ids_create_nothing_and_are_recorded(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    auth: Any,
) -> None:
    ids = add_contacts(sf_emulator, 3)
    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver/x", ids)
    # Someone holding the URL sends ids of their choosing with plausible data.
    forged = delivery.body.replace(ids[0].encode(), LEAD_ID.encode()).replace(
        ids[1].encode(), NEVER_EXISTED.encode()
    )
    assert acked(await post_soap(client, workspace.webhook_path, forged))
    outcomes = {r.salesforce_contact_id: (r.status, r.reason) for r in await rows(app)}
    assert outcomes == {
        LEAD_ID: ("skipped", "not_a_contact"),
        NEVER_EXISTED: ("skipped", "not_found_in_salesforce"),
        ids[2]: ("pending", None),
    }
    async with job_runner(settings) as jobs:
        await run_pending(app, jobs)
    assert [c["email"] for c in rio.contacts(workspace.token)] == ["person2@example.com"]
    assert rio.counters["contact.create"] == 1
    status = await status_of(client, auth, workspace)
    assert status["skipped"]["by_reason"] == {"not_a_contact": 1, "not_found_in_salesforce": 1}
    assert status["created"] == 1


async def test_a_contact_deleted_after_the_message_was_built_is_not_created(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    """The sObject still has data (the record existed when the message was built), but
    Salesforce no longer has the Contact when it is read back."""
    ids = add_contacts(sf_emulator, 2)
    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver/x", ids)
    sf_emulator.delete_contact(ACME, ids[0])
    assert acked(await post_soap(client, workspace.webhook_path, delivery.body))
    outcomes = {r.salesforce_contact_id: (r.status, r.reason) for r in await rows(app)}
    assert outcomes == {
        ids[0]: ("skipped", "not_found_in_salesforce"),
        ids[1]: ("pending", None),
    }


async def test_salesforce_unavailable_is_not_acknowledged_so_it_retries(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    ids = add_contacts(sf_emulator, 1)
    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver/x", ids)
    sf_emulator.set_fault(ACME, "server_unavailable")
    try:
        response = await post_soap(client, workspace.webhook_path, delivery.body)
    finally:
        sf_emulator.set_fault(ACME, None)
    assert response.status_code == 503 and b"soapenv:Server" in response.content
    assert await rows(app) == []
    # Salesforce's retry of the same bytes is then stored.
    assert acked(await post_soap(client, workspace.webhook_path, delivery.body))
    assert [r.salesforce_contact_id for r in await rows(app)] == ids


async def test_setup_steps_name_the_editions_with_outbound_messages(
    client: httpx.AsyncClient, workspace: Workspace, auth: Any
) -> None:
    response = await client.get(
        f"/v1/workspaces/{workspace.id}/salesforce/webhook", headers=auth(workspace.id)
    )
    assert response.status_code == 200
    steps = " ".join(response.json()["setup_steps"])
    assert "Enterprise, Performance, Unlimited and Developer" in steps
    assert "reconciliation" in steps
