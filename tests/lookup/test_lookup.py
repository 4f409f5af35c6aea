"""Contact lookup against the Salesforce emulator (seeded orgs Acme, Globex, Initech)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app.models import Connection
from tests.helpers.contact_app import ACME, GLOBEX, Connect
from tests.helpers.lookups import DEFAULT_FIELDS, URL, contact_with, lookup, put_settings


async def test_match_by_email(client, auth, connect: Connect, sf_emulator) -> None:
    connection = await connect("ws-1")
    ana = contact_with(sf_emulator, ACME, Email="ana.souza@example.com")

    response = await lookup(client, auth, email="ana.souza@example.com")

    assert response.status_code == 200
    body = response.json()
    assert body["matched"] is True
    assert body["matched_on"] == "email"
    assert body["other_matches"] == 0
    assert body["cached"] is False
    assert body["stale"] is False
    assert body["fetched_at"]
    contact = body["contact"]
    assert contact["id"] == ana["Id"]
    assert contact["url"] == f"{connection.instance_url}/lightning/r/Contact/{ana['Id']}/view"
    assert contact["last_modified_at"].startswith("2025-09-02T11:05:10")
    assert [f["name"] for f in contact["fields"]] == DEFAULT_FIELDS
    by_name = {f["name"]: f for f in contact["fields"]}
    assert by_name["Name"] == {
        "name": "Name",
        "label": "Full Name",
        "type": "string",
        "value": "Ana Souza",
        "editable": False,
        "revertible": False,
    }
    assert by_name["Phone"]["label"] == "Business Phone"
    assert by_name["Email"]["value"] == "ana.souza@example.com"

    again = await lookup(client, auth, email="ana.souza@example.com")
    assert again.json()["cached"] is True
    assert again.json()["contact"] == contact


async def test_email_is_case_insensitive_like_salesforce(client, auth, connect) -> None:
    await connect("ws-1")
    body = (await lookup(client, auth, email="john.doe@example.com")).json()
    assert body["matched"] is True
    assert body["contact"]["fields"][0]["value"] == "John Doe"


async def test_match_by_phone_exact(client, auth, connect, sf_emulator) -> None:
    await connect("ws-1")
    wei = contact_with(sf_emulator, ACME, LastName="Chen")

    by_phone = (await lookup(client, auth, phone="+60 3-2141 5678")).json()
    by_mobile = (await lookup(client, auth, phone="+60 17-222 3344")).json()

    assert by_phone["matched_on"] == "phone" and by_phone["contact"]["id"] == wei["Id"]
    assert by_mobile["matched_on"] == "phone" and by_mobile["contact"]["id"] == wei["Id"]


async def test_exact_phone_matching_compares_strings(client, auth, connect) -> None:
    await connect("ws-1")
    spaced = (await lookup(client, auth, phone="12 3")).json()
    plain = (await lookup(client, auth, phone="123")).json()
    formatted_differently = (await lookup(client, auth, phone="+60123456789")).json()

    assert spaced["contact"]["fields"][0]["value"] == "Tiny Twelve-Three"
    assert spaced["other_matches"] == 0
    assert plain["contact"]["fields"][0]["value"] == "Tiny OneTwoThree"
    assert plain["other_matches"] == 0
    assert formatted_differently["matched"] is False


async def test_normalized_phone_matching_compares_e164(client, auth, connect, sf_emulator) -> None:
    await connect("ws-1")
    await put_settings(client, auth, phone_matching="normalized")
    sf_emulator.reset_counters()

    ana = (await lookup(client, auth, phone="+60123456789")).json()
    carla = (await lookup(client, auth, phone="+1 415-555-0100")).json()
    national = (await lookup(client, auth, phone="4155550100")).json()  # default region US
    nothing = (await lookup(client, auth, phone="+60 12-345 0000")).json()
    unreadable = (await lookup(client, auth, phone="12")).json()

    assert ana["matched_on"] == "phone"
    assert ana["contact"]["fields"][0]["value"] == "Ana Souza"
    # The Lead "Carl Jonas" has the same number: Leads never match.
    assert carla["contact"]["fields"][0]["value"] == "Carla Jones"
    assert national["contact"]["id"] == carla["contact"]["id"]
    assert nothing["matched"] is False and "country code" in nothing["hint"]
    assert unreadable["matched"] is False and "could not be read" in unreadable["hint"]
    assert national["cached"] is True  # same E.164 number, same cache entry
    # Per distinct readable number one SOSL search and one recency query (records the
    # search index has not caught yet); nothing at all for "12".
    assert sf_emulator.counters["search"] == 3
    assert sf_emulator.counters["query"] == 3


async def test_normalized_phone_asks_for_email_first(client, auth, connect, sf_emulator) -> None:
    await connect("ws-1")
    await put_settings(client, auth, phone_matching="normalized")
    sf_emulator.reset_counters()

    by_email = await lookup(client, auth, email="ben.tan@example.com", phone="+1 415 555 0100")
    by_phone = await lookup(client, auth, email="nobody@example.com", phone="+14155550100")

    assert by_email.json()["matched_on"] == "email"
    assert by_email.json()["contact"]["fields"][0]["value"] == "Ben Tan"
    assert by_phone.json()["matched_on"] == "phone"
    assert by_phone.json()["contact"]["fields"][0]["value"] == "Carla Jones"
    # Email hit: 1 call. Email miss then phone: 2 calls (SOQL, then SOSL).
    assert sf_emulator.counters["query"] == 2
    assert sf_emulator.counters["search"] == 1


async def test_email_wins_over_phone_and_phone_is_the_fallback(
    client, auth, connect, sf_emulator
) -> None:
    await connect("ws-1")
    sf_emulator.reset_counters()

    email_wins = (await lookup(client, auth, email="ben.tan@example.com", phone="123")).json()
    fallback = (await lookup(client, auth, email="nobody@example.com", phone="123")).json()

    assert email_wins["matched_on"] == "email"
    assert email_wins["contact"]["fields"][0]["value"] == "Ben Tan"
    assert email_wins["other_matches"] == 0
    assert fallback["matched_on"] == "phone"
    assert fallback["contact"]["fields"][0]["value"] == "Tiny OneTwoThree"
    assert sf_emulator.counters["query"] == 2  # one SOQL per uncached lookup


async def test_no_match_gives_a_hint(client, auth, connect) -> None:
    await connect("ws-1")
    response = await lookup(client, auth, email="nobody@example.com")

    body = response.json()
    assert response.status_code == 200
    assert body["matched"] is False
    assert body["contact"] is None
    assert "exactly the same" in body["hint"]
    assert body["cached"] is False
    assert (await lookup(client, auth, email="nobody@example.com")).json()["cached"] is True


async def test_leads_are_never_returned(client, auth, connect) -> None:
    await connect("ws-1")
    by_email = (await lookup(client, auth, email="lead.only@example.com")).json()
    by_phone = (await lookup(client, auth, phone="+1 646 555 0123")).json()
    assert by_email["matched"] is False
    assert by_phone["matched"] is False


async def test_several_matches_pick_the_most_recently_modified(
    client, auth, connect, sf_emulator
) -> None:
    await connect("ws-1")
    body = (await lookup(client, auth, email="shared@example.com")).json()
    assert body["contact"]["fields"][0]["value"] == "Samantha Lee"
    assert body["other_matches"] == 1

    sam = contact_with(sf_emulator, ACME, FirstName="Sam", LastName="Lee")
    sf_emulator.update_contact(ACME, sam["Id"], {"Title": "Now newest"})
    await connect("ws-1")  # a reconnect purges the cache
    body = (await lookup(client, auth, email="shared@example.com")).json()
    assert body["contact"]["id"] == sam["Id"]
    assert body["other_matches"] == 1


async def test_deleted_contacts_do_not_match(client, auth, connect, sf_emulator, clock) -> None:
    await connect("ws-1")
    assert (await lookup(client, auth, email="deleted.contact@example.com")).json()[
        "matched"
    ] is False

    ben = contact_with(sf_emulator, ACME, Email="ben.tan@example.com")
    assert (await lookup(client, auth, email="ben.tan@example.com")).json()["matched"] is True
    sf_emulator.delete_contact(ACME, ben["Id"])
    clock.advance(61)
    body = (await lookup(client, auth, email="ben.tan@example.com")).json()
    assert body["matched"] is False and body["cached"] is False


async def test_fields_follow_visible_fields_and_editing(client, auth, connect) -> None:
    await connect("ws-1")
    await put_settings(
        client,
        auth,
        visible_fields=["Title", "department", "Email", "Customer_Score__c"],
        editing_enabled=True,
    )

    body = (await lookup(client, auth, email="ana.souza@example.com")).json()

    fields = body["contact"]["fields"]
    assert [f["name"] for f in fields] == ["Title", "Department", "Email", "Customer_Score__c"]
    assert [f["label"] for f in fields] == ["Title", "Department", "Email", "Customer Score"]
    editable = {f["name"]: (f["editable"], f["revertible"]) for f in fields}
    # Nothing was edited through respond.io yet, so nothing is revertible.
    assert editable == {
        "Title": (True, False),
        "Department": (True, False),
        "Email": (False, False),  # type email is never editable
        "Customer_Score__c": (True, False),
    }


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "give an email or a phone"),
        ({"email": "   "}, "give an email or a phone"),
        ({"email": "a" * 321}, "email"),
        ({"phone": "1" * 65}, "phone"),
        ({"email": "ana@example.com\n"}, "U+000A"),
        ({"phone": "123\x00"}, "U+0000"),
        ({"email": "ana\u202e@example.com"}, "U+202E"),
    ],
)
async def test_invalid_queries_are_422(client, auth, connect, params, fragment) -> None:
    await connect("ws-1")
    response = await lookup(client, auth, **params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"
    assert fragment in response.json()["detail"]


async def test_roles_and_workspaces(client, auth, connect) -> None:
    await connect("ws-1")
    for role in ("owner", "manager", "agent"):
        response = await lookup(client, auth, role=role, email="ana.souza@example.com")
        assert response.status_code == 200
    other = await client.get(
        URL.format(ws="ws-1"), params={"email": "ana.souza@example.com"}, headers=auth("ws-2")
    )
    assert other.status_code == 403 and other.json()["code"] == "forbidden"
    anonymous = await client.get(URL.format(ws="ws-1"), params={"email": "a@b.c"})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"


async def test_not_connected_and_reauthorization_required(client, auth, connect, app) -> None:
    response = await lookup(client, auth, ws="ws-9", email="ana.souza@example.com")
    assert response.status_code == 409
    assert response.json()["code"] == "salesforce_not_connected"

    await connect("ws-1")
    async with app.state.services.db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.workspace_id == "ws-1")
            .values(status="reauthorization_required")
        )
    await app.state.services.invalidation.purge_workspace("ws-1")
    response = await lookup(client, auth, email="ana.souza@example.com")
    assert response.status_code == 409
    assert response.json()["code"] == "salesforce_reauthorization_required"


async def test_workspaces_never_share_answers(client, auth, connect, sf_emulator) -> None:
    """Same email, same or different org: each workspace gets its own Salesforce answer."""
    await connect("ws-a", ACME)
    await connect("ws-b", GLOBEX)
    await connect("ws-c", ACME, username="sales@acme.example")
    sf_emulator.reset_counters()

    a = (await lookup(client, auth, ws="ws-a", email="ana.souza@example.com")).json()
    b = (await lookup(client, auth, ws="ws-b", email="ana.souza@example.com")).json()
    c = (await lookup(client, auth, ws="ws-c", email="ana.souza@example.com")).json()

    assert a["contact"]["fields"][0]["value"] == "Ana Souza"
    assert b["contact"]["fields"][0]["value"] == "Ana Souza-Pereira"
    assert b["contact"]["id"] != a["contact"]["id"]
    assert b["contact"]["url"].startswith(
        sf_emulator.base_url
    )  # the emulator serves every org on one host
    assert (a["cached"], b["cached"], c["cached"]) == (False, False, False)
    assert sf_emulator.counters["query"] == 3

    # A miss in one workspace is not a miss in another, and vice versa.
    hank_b = (await lookup(client, auth, ws="ws-b", email="hank.customer@example.com")).json()
    hank_a = (await lookup(client, auth, ws="ws-a", email="hank.customer@example.com")).json()
    assert hank_b["matched"] is True and hank_a["matched"] is False


async def test_disconnect_purges_and_reconnect_starts_a_new_generation(
    client, auth, connect, sf_emulator, app
) -> None:
    await connect("ws-1", ACME)
    first = (await lookup(client, auth, email="ana.souza@example.com")).json()
    assert (await lookup(client, auth, email="ana.souza@example.com")).json()["cached"] is True

    # Reconnected to another org: nothing of the first org's answers may come back.
    await connect("ws-1", GLOBEX)
    after = (await lookup(client, auth, email="ana.souza@example.com")).json()
    assert after["cached"] is False
    assert after["contact"]["id"] != first["contact"]["id"]


async def test_the_openapi_document_shows_the_lookups_query_parameters(client) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"][
        "/v1/workspaces/{workspace_id}/salesforce/contacts/lookup"
    ]["get"]
    parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
    assert set(parameters) == {("path", "workspace_id"), ("query", "email"), ("query", "phone")}
    assert parameters[("query", "email")]["schema"]["anyOf"][0]["maxLength"] == 320
    assert parameters[("query", "phone")]["schema"]["anyOf"][0]["maxLength"] == 64
    assert not parameters[("query", "email")]["required"]


async def test_the_last_of_repeated_identifiers_is_used(client, auth, connect) -> None:
    await connect("ws-1")
    response = await client.get(
        URL.format(ws="ws-1"),
        params=[("email", "nobody@example.com"), ("email", "ana.souza@example.com")],
        headers=auth("ws-1", "agent"),
    )
    assert response.status_code == 200
    assert response.json()["matched"] is True
