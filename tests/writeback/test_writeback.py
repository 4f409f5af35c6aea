"""Creating Contacts and logging activities through the API, against the Salesforce
emulator over real HTTP (its control API drives duplicate rules, faults and counters)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers.contact_app import ACME

WS = "ws-1"
BASE = f"/v1/workspaces/{WS}/salesforce"
ANA = "0035g0000006SevAAE"
LEAD = "00Q5g0000006TPJEA2"


async def control(sf: Any, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=sf.base_url) as http:
        response = await http.request(method, f"/__emulator{path}", json=body)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None


async def counters(sf: Any) -> dict[str, int]:
    body: dict[str, int] = await control(sf, "GET", "/counters")
    return body


async def setup(client: httpx.AsyncClient, auth: Any, connect: Any, **toggles: Any) -> None:
    await connect(WS, ACME)
    document = {
        "visible_fields": ["Name", "Email", "Phone", "Title"],
        "editing_enabled": False,
        "phone_matching": "exact",
        "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
        "record_creation_enabled": True,
        "activity_logging_enabled": True,
        **toggles,
    }
    response = await client.put(f"{BASE}/settings", json=document, headers=auth(WS, "owner"))
    assert response.status_code == 200, response.text


def values(view: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f["value"] for f in view["fields"]}


async def test_create_then_lookup_shows_the_record_a_cached_miss_hid(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    email, phone = "new.person@example.com", "+60 11-222 3333"
    for params in ({"email": email}, {"phone": phone}, {"email": email, "phone": phone}):
        miss = await client.get(f"{BASE}/contacts/lookup", params=params, headers=auth(WS, "agent"))
        assert miss.json()["matched"] is False
    await control(sf_emulator, "POST", "/counters/reset")

    fields = {"FirstName": "New", "LastName": "Person", "Email": email, "Phone": phone}
    created = await client.post(
        f"{BASE}/contacts", json={"fields": fields}, headers=auth(WS, "agent")
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("003") and "/lightning/r/Contact/" in body["url"]
    assert values(body)["Name"] == "New Person" and values(body)["Email"] == email
    assert (await counters(sf_emulator)).get("contact.create") == 1
    assert (await counters(sf_emulator)).get("api") == 1  # the describe was cached
    for params in ({"email": email}, {"phone": phone}, {"email": email, "phone": phone}):
        hit = await client.get(f"{BASE}/contacts/lookup", params=params, headers=auth(WS, "agent"))
        assert hit.json()["matched"] is True, params
        assert hit.json()["contact"]["id"] == body["id"]


async def test_the_same_idempotency_key_creates_one_record(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    fields = {"LastName": "Once", "Email": "once@example.com"}
    headers = {**auth(WS, "agent"), "Idempotency-Key": "k-1"}
    first = await client.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
    again = await client.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
    other = await client.post(
        f"{BASE}/contacts", json={"fields": {"LastName": "Else"}}, headers=headers
    )

    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    made = await control(sf_emulator, "GET", f"/orgs/{ACME}/contacts?Email=once@example.com")
    assert len(made) == 1


async def test_missing_last_name_is_a_422_naming_it(
    client: httpx.AsyncClient, auth: Any, connect: Any
) -> None:
    await setup(client, auth, connect)
    response = await client.post(
        f"{BASE}/contacts", json={"fields": {"FirstName": "Ana"}}, headers=auth(WS, "agent")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert {"field": "fields.LastName", "message": "is required"} in response.json()["errors"]


async def test_duplicate_rule_is_a_409_with_the_matching_ids(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    await control(
        sf_emulator,
        "PUT",
        f"/orgs/{ACME}/duplicate-rules",
        [{"object": "Contact", "fields": ["Email"], "action": "block"}],
    )
    response = await client.post(
        f"{BASE}/contacts",
        json={"fields": {"LastName": "Souza", "Email": "ana.souza@example.com"}},
        headers={**auth(WS, "agent"), "Idempotency-Key": "dup"},
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "salesforce_duplicate"
    assert ANA in response.json()["duplicates"]


async def test_toggles_off_answer_403(client: httpx.AsyncClient, auth: Any, connect: Any) -> None:
    off = {"record_creation_enabled": False, "activity_logging_enabled": False}
    await setup(client, auth, connect, **off)
    create = await client.post(
        f"{BASE}/contacts", json={"fields": {"LastName": "X"}}, headers=auth(WS, "agent")
    )
    activity = await client.post(
        f"{BASE}/activities",
        json={
            "record_id": ANA,
            "subject": "s",
            "occurred_at": "2026-11-30T10:00:00Z",
            "external_id": "e",
        },
        headers=auth(WS, "agent"),
    )
    assert create.status_code == 403 and create.json()["code"] == "record_creation_disabled"
    assert activity.status_code == 403 and activity.json()["code"] == "activity_logging_disabled"


async def test_a_put_without_the_toggles_keeps_them(
    client: httpx.AsyncClient, auth: Any, connect: Any
) -> None:
    await setup(client, auth, connect)
    document = {
        "visible_fields": ["Name", "Email"],
        "editing_enabled": False,
        "phone_matching": "exact",
        "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
    }
    saved = await client.put(f"{BASE}/settings", json=document, headers=auth(WS, "manager"))
    assert saved.json()["record_creation_enabled"] is True
    assert saved.json()["activity_logging_enabled"] is True


def activity(record: str, external_id: str, description: str = "hello") -> dict[str, Any]:
    return {
        "record_id": record,
        "subject": "WhatsApp conversation",
        "description": description,
        "occurred_at": "2026-11-30T10:00:00Z",
        "external_id": external_id,
    }


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_occurred_at_at_the_ends_of_the_calendar_is_a_validation_error(
    client: httpx.AsyncClient, auth: Any, connect: Any, occurred_at: str
) -> None:
    """A moment whose UTC date falls outside years 1 to 9999 is refused (422), not an
    OverflowError (500)."""
    await setup(client, auth, connect)
    body = {**activity(ANA, "calendar-end"), "occurred_at": occurred_at}
    response = await client.post(f"{BASE}/activities", json=body, headers=auth(WS, "agent"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "occurred_at"


async def test_activity_on_a_contact_and_on_a_lead(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    for record in (ANA, LEAD):
        response = await client.post(
            f"{BASE}/activities", json=activity(record, f"c-{record}"), headers=auth(WS, "agent")
        )
        assert response.status_code == 201, response.text
        assert response.json()["created"] is True
        tasks = await control(sf_emulator, "GET", f"/orgs/{ACME}/tasks?WhoId={record}")
        assert len(tasks) == 1
        task = tasks[0]
        assert task["Id"] == response.json()["task_id"]
        assert task["Status"] == "Completed" and task["IsClosed"] is True
        assert task["ActivityDate"] == "2026-11-30"
        listed = await client.get(
            f"{BASE}/activities", params={"record_id": record}, headers=auth(WS, "agent")
        )
        assert [a["task_id"] for a in listed.json()] == [task["Id"]]


async def test_the_same_external_id_from_two_concurrent_requests_makes_one_task(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    first, second = await asyncio.gather(
        *(
            client.post(f"{BASE}/activities", json=activity(ANA, "race"), headers=auth(WS))
            for _ in range(2)
        )
    )
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert first.json()["task_id"] == second.json()["task_id"]
    assert len(await control(sf_emulator, "GET", f"/orgs/{ACME}/tasks?WhoId={ANA}")) == 1


async def test_a_long_description_is_cut_with_a_marker(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    response = await client.post(
        f"{BASE}/activities", json=activity(ANA, "long", "x" * 40_000), headers=auth(WS)
    )
    assert response.status_code == 201, response.text
    [task] = await control(sf_emulator, "GET", f"/orgs/{ACME}/tasks?WhoId={ANA}")
    assert len(task["Description"]) <= 32_000
    assert "cut by respond.io" in task["Description"]


async def test_the_cut_counts_utf_16_units_as_salesforce_does(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    """An emoji outside the Basic Multilingual Plane is one character but two UTF-16 units,
    and Salesforce's 32,000 limit counts units: 20,000 emoji (40,000 units) are cut too."""
    await setup(client, auth, connect)
    response = await client.post(
        f"{BASE}/activities", json=activity(ANA, "emoji", "\U0001f600" * 20_000), headers=auth(WS)
    )
    assert response.status_code == 201, response.text
    [task] = await control(sf_emulator, "GET", f"/orgs/{ACME}/tasks?WhoId={ANA}")
    assert len(task["Description"].encode("utf-16-le")) // 2 <= 32_000
    assert "cut by respond.io" in task["Description"]
    assert "\ufffd" not in task["Description"]  # no emoji split in half


async def test_a_task_whose_answer_was_lost_is_not_created_twice_on_retry(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    await control(sf_emulator, "POST", f"/orgs/{ACME}/write-faults", {"lose_answer": "error_500"})
    lost = await client.post(f"{BASE}/activities", json=activity(ANA, "lost"), headers=auth(WS))
    assert lost.status_code == 502
    assert len(await control(sf_emulator, "GET", f"/orgs/{ACME}/tasks?WhoId={ANA}")) == 1

    retry = await client.post(f"{BASE}/activities", json=activity(ANA, "lost"), headers=auth(WS))
    assert retry.status_code == 200, retry.text
    [task] = await control(sf_emulator, "GET", f"/orgs/{ACME}/tasks?WhoId={ANA}")
    assert retry.json() == {"task_id": task["Id"], "url": retry.json()["url"], "created": False}


async def test_a_lead_needs_company_and_is_created_when_leads_are_enabled(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    fields = {"LastName": "Prospect", "Email": "prospect@example.com"}
    off = await client.post(f"{BASE}/leads", json={"fields": fields}, headers=auth(WS, "agent"))
    assert off.status_code == 403 and off.json()["code"] == "record_creation_disabled"

    leads = {"enabled": True, "visible_fields": ["Name", "Company", "Email", "Status"]}
    await setup(client, auth, connect, leads=leads)
    missing = await client.post(f"{BASE}/leads", json={"fields": fields}, headers=auth(WS))
    assert missing.status_code == 422
    assert {"field": "fields.Company", "message": "is required"} in missing.json()["errors"]

    fields["Company"] = "Acme Prospects"
    created = await client.post(f"{BASE}/leads", json={"fields": fields}, headers=auth(WS))
    assert created.status_code == 201, created.text
    assert created.json()["id"].startswith("00Q") and "/lightning/r/Lead/" in created.json()["url"]
    assert values(created.json())["Status"] == "Open - Not Contacted"
    assert values(created.json())["Company"] == "Acme Prospects"
