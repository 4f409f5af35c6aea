"""Cases from the inbox (docs/whole-customer.md): `POST .../salesforce/cases` for a Contact,
with Idempotency-Key, the duplicate and validation answers Contacts have, and the Contact's
cached open Cases replaced at once."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.contact_app import ACME
from tests.writeback.test_writeback import ANA, BASE, WS, control, counters, setup, values

SOUZA_TRADING = "0015g0000000AfJAAU"
CASES_ON = {
    "account": {"enabled": False, "fields": ["Name"]},
    "opportunities": {"enabled": False, "fields": ["Name"], "limit": 5},
    "cases": {
        "enabled": True,
        "fields": ["CaseNumber", "Subject", "Status", "Priority"],
        "limit": 5,
    },
}
FIELDS = {
    "Subject": "Order 4471 arrived damaged",
    "Description": "Photos sent over WhatsApp.",
    "Origin": "WhatsApp",
    "Priority": "High",
}


async def post_case(client: httpx.AsyncClient, auth: Any, body: Any, **headers: str):
    return await client.post(f"{BASE}/cases", json=body, headers={**auth(WS, "agent"), **headers})


async def test_a_case_for_a_contact_and_its_account(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect, related=CASES_ON)
    created = await post_case(client, auth, {"contact_id": ANA, "fields": FIELDS})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("500")
    assert body["url"].endswith(f"/lightning/r/Case/{body['id']}/view")
    # As Salesforce holds it: its number and the default Status, read back.
    assert values(body) == {
        "CaseNumber": "00001004",
        "Subject": "Order 4471 arrived damaged",
        "Status": "New",
        "Priority": "High",
    }
    stored = sf_emulator.get_record(ACME, "Case", body["id"])
    assert stored["ContactId"] == ANA and stored["AccountId"] == SOUZA_TRADING
    assert stored["Origin"] == "WhatsApp" and stored["Description"] == FIELDS["Description"]


async def test_the_contacts_cached_open_cases_are_replaced_at_once(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(
        client, auth, connect, related={**CASES_ON, "cases": {**CASES_ON["cases"], "limit": 2}}
    )
    lookup_url = f"{BASE}/contacts/lookup"
    params = {"email": "ana.souza@example.com"}
    before = (await client.get(lookup_url, params=params, headers=auth(WS, "agent"))).json()
    assert [values(c)["CaseNumber"] for c in before["related"]["cases"]] == ["00001003", "00001002"]

    created = (await post_case(client, auth, {"contact_id": ANA, "fields": FIELDS})).json()
    await control(sf_emulator, "POST", "/counters/reset")
    after = (await client.get(lookup_url, params=params, headers=auth(WS, "agent"))).json()
    # Still the cached answer (no call), its open Cases with the new one first, the limit kept.
    assert after["cached"] is True and (await counters(sf_emulator)).get("api", 0) == 0
    assert [c["id"] for c in after["related"]["cases"]][0] == created["id"]
    assert after["related"]["cases"][0] == created
    assert [values(c)["CaseNumber"] for c in after["related"]["cases"]] == ["00001004", "00001003"]
    # Salesforce agrees once the answer is read again.
    fresh = await client.get(
        lookup_url, params={**params, "phone": "+60 12-345 6789"}, headers=auth(WS, "agent")
    )
    assert fresh.json()["cached"] is False
    assert fresh.json()["related"]["cases"] == after["related"]["cases"]


async def test_a_case_opened_closed_leaves_the_open_ones(
    client: httpx.AsyncClient, auth: Any, connect: Any
) -> None:
    await setup(client, auth, connect, related=CASES_ON)
    lookup_url = f"{BASE}/contacts/lookup"
    params = {"email": "ana.souza@example.com"}
    before = (await client.get(lookup_url, params=params, headers=auth(WS, "agent"))).json()
    closed = await post_case(
        client, auth, {"contact_id": ANA, "fields": {"Subject": "Answered", "Status": "Closed"}}
    )
    assert closed.status_code == 201, closed.text
    after = (await client.get(lookup_url, params=params, headers=auth(WS, "agent"))).json()
    assert after["related"]["cases"] == before["related"]["cases"]


async def test_the_same_idempotency_key_opens_one_case(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    body = {"contact_id": ANA, "fields": {"Subject": "Once only"}}
    first = await post_case(client, auth, body, **{"Idempotency-Key": "case-1"})
    again = await post_case(client, auth, body, **{"Idempotency-Key": "case-1"})
    other = await post_case(
        client, auth, {**body, "fields": {"Subject": "Else"}}, **{"Idempotency-Key": "case-1"}
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    made = [
        c for c in sf_emulator.org(ACME).objects["Case"].values() if c["Subject"] == "Once only"
    ]
    assert len(made) == 1


async def test_duplicate_and_validation_answers_as_for_contacts(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    await control(
        sf_emulator,
        "PUT",
        f"/orgs/{ACME}/duplicate-rules",
        [{"object": "Case", "fields": ["Subject", "ContactId"], "action": "block"}],
    )
    # Ana already has "Delivery of order 4471 is late" open.
    duplicate = await post_case(
        client,
        auth,
        {"contact_id": ANA, "fields": {"Subject": "Delivery of order 4471 is late"}},
        **{"Idempotency-Key": "dup-case"},
    )
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "salesforce_duplicate"
    assert len(duplicate.json()["duplicates"]) == 1
    assert duplicate.json()["duplicates"][0].startswith("500")

    unknown = await post_case(client, auth, {"contact_id": ANA, "fields": {"Nope__c": "x"}})
    assert unknown.status_code == 422
    assert {"field": "fields.Nope__c", "message": "is not a field of Case"} in unknown.json()[
        "errors"
    ]
    read_only = await post_case(client, auth, {"contact_id": ANA, "fields": {"CaseNumber": "1"}})
    assert read_only.status_code == 422
    not_here = await post_case(
        client, auth, {"contact_id": ANA, "fields": {"Subject": "x", "ContactId": ANA}}
    )
    assert not_here.status_code == 422
    missing = await post_case(
        client, auth, {"contact_id": "0035g0000009ZZZAAA", "fields": {"Subject": "x"}}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "salesforce_contact_not_found"
    for bad in ({"contact_id": "00Q5g0000006TPJEA2", "fields": {"Subject": "x"}}, {"fields": {}}):
        response = await post_case(client, auth, bad)
        assert response.status_code == 422 and response.json()["code"] == "validation_error"


async def test_cases_need_record_creation(
    client: httpx.AsyncClient, auth: Any, connect: Any
) -> None:
    await setup(client, auth, connect, record_creation_enabled=False)
    refused = await post_case(client, auth, {"contact_id": ANA, "fields": {"Subject": "x"}})
    assert refused.status_code == 403 and refused.json()["code"] == "record_creation_disabled"


async def test_an_alerting_rule_saves_a_case_with_allow_duplicates(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    await control(
        sf_emulator,
        "PUT",
        f"/orgs/{ACME}/duplicate-rules",
        [{"object": "Case", "fields": ["Subject", "ContactId"], "action": "alert"}],
    )
    body = {"contact_id": ANA, "fields": {"Subject": "Delivery of order 4471 is late"}}
    refused = await post_case(client, auth, body)
    assert refused.status_code == 409 and refused.json()["code"] == "salesforce_duplicate"
    assert refused.json()["duplicates"][0].startswith("500")
    saved = await post_case(client, auth, {**body, "allow_duplicates": True})
    assert saved.status_code == 201, saved.text
    same = [
        c
        for c in sf_emulator.org(ACME).objects["Case"].values()
        if c["Subject"] == "Delivery of order 4471 is late"
    ]
    assert len(same) == 2
