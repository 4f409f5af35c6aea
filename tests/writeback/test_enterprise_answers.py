"""The answers real orgs give to writes (contract 10.4, 10.11), against the Salesforce
emulator over real HTTP: duplicate rules in Salesforce's own error body (`duplicateResut`),
`allow_duplicates`, the active Lead assignment rule and deleted records."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.contact_app import ACME
from tests.writeback.test_writeback import BASE, WS, activity, control, counters, setup

ANA = "0035g0000006SevAAE"
PRIYA = "0055g000000GR44AAG"
ALEX = "0055g000000GR2fAAG"
LEADS_ON = {"leads": {"enabled": True, "visible_fields": ["Name", "Company", "Email"]}}


async def create(
    client: httpx.AsyncClient, auth: Any, sobject: str, fields: dict[str, Any], **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{BASE}/{sobject}s", json={"fields": fields, **extra}, headers=auth(WS, "agent")
    )


async def test_an_alerting_rule_saves_with_allow_duplicates(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    rule = {"object": "Contact", "fields": ["Email"], "action": "alert"}
    await control(sf_emulator, "PUT", f"/orgs/{ACME}/duplicate-rules", [rule])
    fields = {"LastName": "Souza", "Email": "ana.souza@example.com"}

    refused = await create(client, auth, "contact", fields)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "salesforce_duplicate"
    assert refused.json()["duplicates"] == [ANA]

    saved = await create(client, auth, "contact", fields, allow_duplicates=True)
    assert saved.status_code == 201, saved.text
    new_id = saved.json()["id"]
    assert new_id != ANA
    stored = await control(sf_emulator, "GET", f"/orgs/{ACME}/contacts/{new_id}")
    assert stored["Email"] == "ana.souza@example.com"


async def test_a_blocking_rule_still_refuses_with_allow_duplicates(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect, **LEADS_ON)
    lead = await control(
        sf_emulator,
        "POST",
        f"/orgs/{ACME}/leads",
        {"LastName": "Dup", "Company": "Dup Co", "Email": "dup.lead@example.com"},
    )
    rule = {"object": "Lead", "fields": ["Email"], "action": "block"}
    await control(sf_emulator, "PUT", f"/orgs/{ACME}/duplicate-rules", [rule])
    fields = {"LastName": "Dup", "Company": "Other", "Email": "dup.lead@example.com"}
    refused = await create(client, auth, "lead", fields, allow_duplicates=True)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "salesforce_duplicate"
    assert refused.json()["duplicates"] == [lead["Id"]]


async def test_allow_duplicates_must_be_a_boolean(
    client: httpx.AsyncClient, auth: Any, connect: Any
) -> None:
    await setup(client, auth, connect)
    answer = await create(client, auth, "contact", {"LastName": "X"}, allow_duplicates="yes")
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"


async def test_a_lead_is_created_under_the_active_assignment_rule(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect, **LEADS_ON)
    await control(sf_emulator, "PUT", f"/orgs/{ACME}/lead-assignment-rule", {"owner_id": PRIYA})
    fields = {"LastName": "Assigned", "Company": "Rules Inc", "Email": "assigned@example.com"}

    created = await create(client, auth, "lead", fields)

    assert created.status_code == 201, created.text
    assert created.json()["owner"] == {"id": PRIYA, "name": "Priya Nair"}
    stored = await control(sf_emulator, "GET", f"/orgs/{ACME}/leads/{created.json()['id']}")
    assert stored["OwnerId"] == PRIYA


async def test_without_an_assignment_rule_the_lead_is_the_connected_users(
    client: httpx.AsyncClient, auth: Any, connect: Any
) -> None:
    await setup(client, auth, connect, **LEADS_ON)
    fields = {"LastName": "Mine", "Company": "Own Inc"}
    created = await create(client, auth, "lead", fields)
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == {"id": ALEX, "name": "Alex Morgan"}


async def test_a_task_on_a_deleted_lead_is_lead_not_found(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect, **LEADS_ON)
    lead = await control(
        sf_emulator, "POST", f"/orgs/{ACME}/leads", {"LastName": "Gone", "Company": "Gone Co"}
    )
    contact = await control(sf_emulator, "POST", f"/orgs/{ACME}/contacts", {"LastName": "Gone"})
    await control(sf_emulator, "DELETE", f"/orgs/{ACME}/leads/{lead['Id']}")
    await control(sf_emulator, "DELETE", f"/orgs/{ACME}/contacts/{contact['Id']}")
    await control(sf_emulator, "POST", "/counters/reset")

    on_lead = await client.post(
        f"{BASE}/activities", json=activity(lead["Id"], "gone-lead"), headers=auth(WS, "agent")
    )
    on_contact = await client.post(
        f"{BASE}/activities",
        json=activity(contact["Id"], "gone-contact"),
        headers=auth(WS, "agent"),
    )

    assert on_lead.status_code == 404, on_lead.text
    assert on_lead.json()["code"] == "salesforce_lead_not_found"
    assert on_contact.status_code == 404, on_contact.text
    assert on_contact.json()["code"] == "salesforce_contact_not_found"
    assert (await counters(sf_emulator))["task.create"] == 2
