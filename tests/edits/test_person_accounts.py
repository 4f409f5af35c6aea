"""Person Accounts (docs/whole-customer.md): in an org with the feature, a person account's
Contact is found like any Contact, marked `person_account`, opens its Account, and is
edited and reverted through the Account under its person names; creation makes person
accounts when the workspace chooses it. An org without the feature never sees a query
naming `IsPersonAccount`."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.contact_app import ACME, Connect
from tests.helpers.lookups import lookup, put_settings

BLUEBIRD = "00D7q0000000BRgEAM"
SITI_ACCOUNT = "0017q0000000BRqAAM"
SITI_EMAIL = "siti.aminah@example.com"
OMAR_EMAIL = "omar.hakim@example.com"  # a business Contact of the same org
WS = "ws-pa"
BASE = f"/v1/workspaces/{WS}/salesforce"
VISIBLE = ["Name", "Email", "MobilePhone", "Title", "Birthdate", "Description"]


async def person_org(client: httpx.AsyncClient, auth: Any, connect: Connect, **changes: Any):
    connection = await connect(WS, BLUEBIRD)
    await put_settings(client, auth, WS, visible_fields=VISIBLE, editing_enabled=True, **changes)
    return connection


def by_name(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in view["fields"]}


async def test_a_person_account_is_found_and_opens_its_account(
    client, auth, connect: Connect
) -> None:
    connection = await person_org(client, auth, connect)
    answer = (await lookup(client, auth, WS, email=SITI_EMAIL)).json()
    contact = answer["contact"]
    assert answer["matched"] is True and contact["person_account"] is True
    assert contact["url"] == f"{connection.instance_url}/lightning/r/Account/{SITI_ACCOUNT}/view"
    fields = by_name(contact)
    assert fields["Title"]["value"] == "Teacher" and fields["Title"]["editable"] is True
    assert fields["Birthdate"]["editable"] is True
    # No Account counterpart: shown, not editable.
    assert fields["Description"]["editable"] is False

    business = (await lookup(client, auth, WS, email=OMAR_EMAIL)).json()["contact"]
    assert "person_account" not in business
    assert business["url"].endswith(f"/lightning/r/Contact/{business['id']}/view")


async def test_an_edit_lands_on_the_account_and_the_revert_too(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await person_org(client, auth, connect)
    contact = (await lookup(client, auth, WS, email=SITI_EMAIL)).json()["contact"]
    edited = await client.patch(
        f"{BASE}/contacts/{contact['id']}",
        json={"fields": {"Title": "Head Teacher", "Birthdate": "1991-07-04"}},
        headers=auth(WS, "agent"),
    )
    assert edited.status_code == 200, edited.text
    assert by_name(edited.json())["Title"]["value"] == "Head Teacher"
    account = sf_emulator.get_record(BLUEBIRD, "Account", SITI_ACCOUNT)
    assert account["PersonTitle"] == "Head Teacher"
    assert account["PersonBirthdate"] == "1991-07-04"
    assert sf_emulator.counters.get("contact.patch", 0) == 0  # never written as a Contact
    assert sf_emulator.counters["account.patch"] == 1

    # The history names the Contact's field, whatever Account field the write went to.
    history = (
        await client.get(f"{BASE}/contacts/{contact['id']}/history", headers=auth(WS, "agent"))
    ).json()
    assert {entry["field"] for entry in history} == {"Title", "Birthdate"}

    reverted = await client.post(
        f"{BASE}/contacts/{contact['id']}/fields/Title/revert", headers=auth(WS, "agent")
    )
    assert reverted.status_code == 200, reverted.text
    assert sf_emulator.get_record(BLUEBIRD, "Account", SITI_ACCOUNT)["PersonTitle"] == "Teacher"
    after = (await lookup(client, auth, WS, email=SITI_EMAIL)).json()["contact"]
    assert by_name(after)["Title"]["value"] == "Teacher"


async def test_a_field_without_a_counterpart_is_not_editable(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await person_org(client, auth, connect)
    contact = (await lookup(client, auth, WS, email=SITI_EMAIL)).json()["contact"]
    refused = await client.patch(
        f"{BASE}/contacts/{contact['id']}",
        json={"fields": {"Description": "Prefers evenings"}},
        headers=auth(WS, "agent"),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "field_not_editable"
    assert refused.json()["errors"] == [
        {"field": "Description", "message": "Description has no person account counterpart"}
    ]
    assert sf_emulator.counters.get("account.patch", 0) == 0


async def test_a_change_made_in_salesforce_meanwhile_is_a_conflict(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await person_org(client, auth, connect)
    contact = (await lookup(client, auth, WS, email=SITI_EMAIL)).json()["contact"]
    await client.patch(
        f"{BASE}/contacts/{contact['id']}",
        json={"fields": {"Title": "Head Teacher"}},
        headers=auth(WS, "agent"),
    )
    # Someone edits the Account in Salesforce after respond.io's write.
    sf_emulator.update_record(BLUEBIRD, "Account", SITI_ACCOUNT, {"PersonTitle": "Principal"})
    conflict = await client.post(
        f"{BASE}/contacts/{contact['id']}/fields/Title/revert", headers=auth(WS, "agent")
    )
    assert conflict.status_code == 409 and conflict.json()["code"] == "edit_conflict"
    assert sf_emulator.get_record(BLUEBIRD, "Account", SITI_ACCOUNT)["PersonTitle"] == "Principal"


async def test_creation_makes_a_person_account_when_chosen(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await person_org(
        client,
        auth,
        connect,
        record_creation_enabled=True,
        record_creation={"person_accounts": True},
    )
    fields = {"FirstName": "Lim", "LastName": "Wei", "Email": "lim.wei@example.com"}
    created = await client.post(
        f"{BASE}/contacts", json={"fields": {**fields, "Title": "Nurse"}}, headers=auth(WS)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("003") and body["person_account"] is True
    account_id = body["url"].split("/lightning/r/Account/")[1].split("/")[0]
    account = sf_emulator.get_record(BLUEBIRD, "Account", account_id)
    assert account["PersonEmail"] == "lim.wei@example.com" and account["PersonTitle"] == "Nurse"
    person = sf_emulator.get_record(BLUEBIRD, "Contact", body["id"])
    assert person["IsPersonAccount"] is True and person["AccountId"] == account_id
    found = (await lookup(client, auth, WS, email="lim.wei@example.com")).json()
    assert found["contact"]["id"] == body["id"] and found["contact"]["person_account"] is True

    no_counterpart = await client.post(
        f"{BASE}/contacts",
        json={"fields": {"LastName": "X", "Description": "y"}},
        headers=auth(WS),
    )
    assert no_counterpart.status_code == 422

    # Not chosen: an ordinary Contact, as before.
    await put_settings(client, auth, WS, record_creation={"person_accounts": False})
    plain = await client.post(
        f"{BASE}/contacts",
        json={"fields": {"LastName": "Plain", "Email": "plain@example.com"}},
        headers=auth(WS),
    )
    assert plain.status_code == 201 and "person_account" not in plain.json()
    assert not sf_emulator.get_record(BLUEBIRD, "Contact", plain.json()["id"])["IsPersonAccount"]


async def test_an_org_without_the_feature_never_sees_is_person_account(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1", ACME)
    await put_settings(
        client,
        auth,
        "ws-1",
        editing_enabled=True,
        record_creation_enabled=True,
        record_creation={"person_accounts": True},
    )
    sf_emulator.queries.clear()
    for identifiers in ({"email": "ana.souza@example.com"}, {"phone": "+60198765432"}):
        answer = (await lookup(client, auth, "ws-1", **identifiers)).json()
        assert answer["matched"] is True and "person_account" not in answer["contact"]
    created = await client.post(
        "/v1/workspaces/ws-1/salesforce/contacts",
        json={"fields": {"LastName": "Regular", "Email": "regular@example.com"}},
        headers=auth("ws-1"),
    )
    assert created.status_code == 201 and created.json()["id"].startswith("003")
    assert sf_emulator.queries  # the lookups' queries were seen...
    assert not [q for q in sf_emulator.queries if "ispersonaccount" in q.lower()]
