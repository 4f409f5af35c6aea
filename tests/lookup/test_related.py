"""The whole customer in the lookup (docs/whole-customer.md): the Contact's Account, the
Account's open Opportunities and the Contact's open Cases, each part behind its setting, at
most one Salesforce call more per uncached lookup (counted at the emulator, describes
included), none more with everything off, cached with the Contact."""

from __future__ import annotations

from typing import Any

from tests.helpers.contact_app import ACME, Connect
from tests.helpers.emulator_control import hide_fields
from tests.helpers.lookups import lookup, put_settings

ANA_EMAIL = "ana.souza@example.com"
ANA_PHONE = "+60 12-345 6789"
ANA = "0035g0000006SevAAE"
SOUZA_TRADING = "0015g0000000AfJAAU"
CARLA_EMAIL = "carla.jones@example.com"  # a Contact without an Account
ADMIN = "0055g000000GR2fAAG"  # admin@acme.example, the user `connect` authorizes

ACCOUNT = {"enabled": True, "fields": ["Name", "Industry", "Phone"]}
OPPORTUNITIES = {
    "enabled": True,
    "fields": ["Name", "StageName", "Amount", "CloseDate"],
    "limit": 5,
}
CASES = {"enabled": True, "fields": ["CaseNumber", "Subject", "Status", "Priority"], "limit": 5}
ALL_ON = {"account": ACCOUNT, "opportunities": OPPORTUNITIES, "cases": CASES}
ALL_OFF = {name: {**part, "enabled": False} for name, part in ALL_ON.items()}


async def related_on(client, auth, **parts: Any) -> dict[str, Any]:
    saved = await put_settings(client, auth, related={**ALL_OFF, **parts})
    # Another email first, so the Contact describe is held and each measured lookup costs
    # what every later uncached lookup costs (today: one query by email).
    await lookup(client, auth, email="warm-up@example.com")
    return saved


def values(record: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f["value"] for f in record["fields"]}


async def uncached_calls(client, auth, sf_emulator, **identifiers: str) -> tuple[dict, int]:
    sf_emulator.reset_counters()
    answer = (await lookup(client, auth, **identifiers)).json()
    assert answer["cached"] is False
    return answer, sf_emulator.counters["api"]


async def test_everything_off_costs_nothing_more_and_adds_no_key(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    await related_on(client, auth)  # saved, every part off
    by_email, email_calls = await uncached_calls(client, auth, sf_emulator, email=ANA_EMAIL)
    assert "related" not in by_email and by_email["matched"] is True
    assert email_calls == 1  # the email query, as before this feature
    by_phone, phone_calls = await uncached_calls(client, auth, sf_emulator, phone=ANA_PHONE)
    assert "related" not in by_phone
    assert phone_calls == 2  # the search and the recency query, as before
    assert sf_emulator.counters["describe"] == 0


async def test_everything_on_costs_one_call_more_describes_included(
    client, auth, connect: Connect, sf_emulator
) -> None:
    connection = await connect("ws-1")
    sf_emulator.reset_counters()
    await put_settings(client, auth, related=ALL_ON)
    # Saving fetched the describes of Account, Opportunity and Case (and the Contact's, for
    # the settings' match-field warnings): no lookup asks them.
    assert sf_emulator.counters["describe"] == 4
    await lookup(client, auth, email="warm-up@example.com")

    answer, calls = await uncached_calls(client, auth, sf_emulator, email=ANA_EMAIL)
    assert calls == 2, sf_emulator.counters
    assert sf_emulator.counters["describe"] == 0
    related = answer["related"]
    account = related["account"]
    assert account["id"] == SOUZA_TRADING
    assert account["url"] == f"{connection.instance_url}/lightning/r/Account/{SOUZA_TRADING}/view"
    assert values(account) == {
        "Name": "Souza Trading Sdn Bhd",
        "Industry": "Retail",
        "Phone": "+60 3-2161 0000",
    }
    assert [f["editable"] for f in account["fields"]] == [False, False, False]
    # Open ones only, soonest CloseDate first; the closed "Pilot 2025" is left out.
    assert [values(o) for o in related["opportunities"]] == [
        {
            "Name": "Fleet tracking renewal 2027",
            "StageName": "Negotiation/Review",
            "Amount": 48000.0,
            "CloseDate": "2026-12-20",
        },
        {
            "Name": "WhatsApp support add-on",
            "StageName": "Proposal/Price Quote",
            "Amount": 12500.0,
            "CloseDate": "2027-01-31",
        },
    ]
    opportunity = related["opportunities"][0]
    assert opportunity["url"] == (
        f"{connection.instance_url}/lightning/r/Opportunity/{opportunity['id']}/view"
    )
    # The Contact's open Cases, newest first; the closed 00001001 is left out.
    assert [values(c)["CaseNumber"] for c in related["cases"]] == ["00001003", "00001002"]
    assert related["cases"][0]["url"].endswith(
        f"/lightning/r/Case/{related['cases'][0]['id']}/view"
    )

    # By phone: the two calls of a phone lookup, plus one.
    by_phone, phone_calls = await uncached_calls(client, auth, sf_emulator, phone=ANA_PHONE)
    assert phone_calls == 3
    assert by_phone["related"] == related

    # Cached with the Contact: no call at all, the same related records.
    sf_emulator.reset_counters()
    again = (await lookup(client, auth, email=ANA_EMAIL)).json()
    assert again["cached"] is True and again["related"] == related
    assert sf_emulator.counters["api"] == 0


async def test_only_enabled_parts_appear_and_limits_hold(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    await related_on(client, auth, opportunities={**OPPORTUNITIES, "limit": 1})
    answer, calls = await uncached_calls(client, auth, sf_emulator, email=ANA_EMAIL)
    assert calls == 2
    assert list(answer["related"]) == ["opportunities"]
    assert [values(o)["Name"] for o in answer["related"]["opportunities"]] == [
        "Fleet tracking renewal 2027"
    ]

    # Cases alone: one query on the Contact with its Cases as a subquery.
    await related_on(client, auth, cases={**CASES, "fields": ["Subject"], "limit": 1})
    answer, calls = await uncached_calls(client, auth, sf_emulator, email=ANA_EMAIL)
    assert calls == 2 and sf_emulator.counters["query.Contact"] == 2
    assert answer["related"] == {
        "cases": [
            {
                "id": answer["related"]["cases"][0]["id"],
                "url": answer["related"]["cases"][0]["url"],
                "fields": [
                    {
                        "name": "Subject",
                        "label": "Subject",
                        "type": "string",
                        "value": "Delivery of order 4471 is late",
                        "editable": False,
                        "revertible": False,
                    }
                ],
            }
        ]
    }

    # The Account alone: relationship fields on the Contact, no Account query.
    await related_on(client, auth, account={**ACCOUNT, "fields": ["Name"]})
    answer, calls = await uncached_calls(client, auth, sf_emulator, email=ANA_EMAIL)
    assert calls == 2 and sf_emulator.counters.get("query.Account", 0) == 0
    assert values(answer["related"]["account"]) == {"Name": "Souza Trading Sdn Bhd"}


async def test_a_contact_without_account_or_cases(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    await related_on(client, auth, account=ACCOUNT, opportunities=OPPORTUNITIES)
    # No Account: nothing to ask, so no call more; every enabled part present.
    answer, calls = await uncached_calls(client, auth, sf_emulator, email=CARLA_EMAIL)
    assert calls == 1
    assert answer["related"] == {"account": None, "opportunities": []}

    await related_on(client, auth, **ALL_ON)
    answer, calls = await uncached_calls(client, auth, sf_emulator, email=CARLA_EMAIL)
    assert calls == 2  # her Cases are still asked
    assert answer["related"] == {"account": None, "opportunities": [], "cases": []}

    # A Lead or a miss carries no `related`.
    miss = (await lookup(client, auth, email="nobody@example.com")).json()
    assert miss["matched"] is False and "related" not in miss


async def test_related_settings_are_checked_against_the_describes(
    client, auth, connect: Connect
) -> None:
    await connect("ws-1")
    url = "/v1/workspaces/ws-1/salesforce/settings"
    current = (await client.get(url, headers=auth("ws-1", "owner"))).json()

    async def put(related: dict[str, Any]) -> Any:
        return await client.put(url, json={**current, "related": related}, headers=auth("ws-1"))

    bad_field = await put({**ALL_ON, "opportunities": {**OPPORTUNITIES, "fields": ["Nope"]}})
    assert bad_field.status_code == 422
    assert bad_field.json()["errors"] == [
        {"field": "related.opportunities.fields", "message": "'Nope' is not a field of Opportunity"}
    ]
    for limit in (0, 21, "5"):
        response = await put({**ALL_ON, "cases": {**CASES, "limit": limit}})
        assert response.status_code == 422, limit
    # A part that stays off is stored as given, unchecked (nothing asks Salesforce for it).
    saved = await put({**ALL_OFF, "account": {"enabled": False, "fields": ["Whatever"]}})
    assert saved.status_code == 200
    assert saved.json()["related"]["account"] == {"enabled": False, "fields": ["Whatever"]}
    # Omitted: kept.
    kept = await client.put(
        url, json={k: v for k, v in current.items() if k != "related"}, headers=auth("ws-1")
    )
    assert kept.json()["related"]["account"]["fields"] == ["Whatever"]


async def test_fields_of_the_related_objects(client, auth, connect: Connect) -> None:
    await connect("ws-1")
    for sobject, expected in (
        ("Account", {"Name", "Industry", "Phone"}),
        ("Opportunity", {"StageName", "Amount", "CloseDate", "IsClosed"}),
        ("Case", {"CaseNumber", "Subject", "Status", "Priority", "Origin"}),
    ):
        response = await client.get(
            "/v1/workspaces/ws-1/salesforce/fields",
            params={"object": sobject},
            headers=auth("ws-1", "agent"),
        )
        assert response.status_code == 200
        assert expected <= {f["name"] for f in response.json()}


async def test_an_edit_keeps_the_related_records_and_another_org_is_unaffected(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1", ACME)
    await put_settings(client, auth, editing_enabled=True, related={**ALL_OFF, "cases": CASES})
    first = (await lookup(client, auth, email=ANA_EMAIL)).json()
    edited = await client.patch(
        f"/v1/workspaces/ws-1/salesforce/contacts/{ANA}",
        json={"fields": {"Title": "COO"}},
        headers=auth("ws-1", "agent"),
    )
    assert edited.status_code == 200, edited.text
    sf_emulator.reset_counters()
    after = (await lookup(client, auth, email=ANA_EMAIL)).json()
    assert after["cached"] is True and sf_emulator.counters["api"] == 0
    assert after["related"] == first["related"]
    assert {f["name"]: f["value"] for f in after["contact"]["fields"]}["Title"] == "COO"


async def test_a_field_the_profile_hides_later_is_left_out_not_a_5xx(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    await put_settings(client, auth, related=ALL_ON)
    before = (await lookup(client, auth, email=ANA_EMAIL)).json()
    assert "Amount" in values(before["related"]["opportunities"][0])
    # The connected user's profile now hides Opportunity.Amount and Case.Priority.
    await hide_fields(
        sf_emulator, ACME, ADMIN, "Integration Profile", Opportunity=["Amount"], Case=["Priority"]
    )
    sf_emulator.queries.clear()
    after = await lookup(client, auth, phone=ANA_PHONE)  # not cached: asks Salesforce
    assert after.status_code == 200, after.text
    related = after.json()["related"]
    assert [f["name"] for f in related["opportunities"][0]["fields"]] == [
        "Name",
        "StageName",
        "CloseDate",
    ]
    assert [f["name"] for f in related["cases"][0]["fields"]] == ["CaseNumber", "Subject", "Status"]
    # Once the describes were read again, no query names the hidden fields.
    last = sf_emulator.queries[-1]
    assert "Opportunities" in last and "Amount" not in last and "Priority" not in last
