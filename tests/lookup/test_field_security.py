"""Field-level security (contract 10.3, 10.11): the connected user's profile hides match
fields. The service never names a hidden field to Salesforce (the emulator refuses such a
query with INVALID_FIELD, as Salesforce does), matches on what stays visible, says so in the
settings' `warnings`, and never answers 5xx because of a profile."""

from __future__ import annotations

from typing import Any

from tests.helpers.contact_app import ACME, Connect
from tests.helpers.emulator_control import hide_fields
from tests.helpers.lookups import lookup, put_settings

ADMIN = "0055g000000GR2fAAG"  # admin@acme.example, the user `connect` authorizes
MEI = "0035g0000006SsBAAU"  # mei.lin@example.com, MobilePhone +65 9123 4567, no Phone
CARLA = "0035g0000006SjLAAU"  # carla.jones@example.com, Phone (415) 555-0100
LENA = "00Q5g0000006TPJEA2"  # Lead lead.only@example.com, MobilePhone +60 11-1111 2222
PROFILE = "Integration Profile"
SETTINGS = "/v1/workspaces/ws-1/salesforce/settings"


async def hide(sf: Any, **hidden: list[str]) -> None:
    """The connected user gets a profile that hides these fields."""
    await hide_fields(sf, ACME, ADMIN, PROFILE, **hidden)


async def test_a_hidden_mobile_phone_is_never_queried_and_phone_still_matches(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await hide(sf_emulator, Contact=["MobilePhone"])
    await connect("ws-1")
    sf_emulator.reset_counters()

    by_phone = await lookup(client, auth, phone="(415) 555-0100")
    by_email = await lookup(client, auth, email="mei.lin@example.com")
    mobile_only = await lookup(client, auth, phone="+65 9123 4567")

    assert by_phone.status_code == 200, by_phone.text
    assert by_phone.json()["contact"]["id"] == CARLA
    assert by_email.status_code == 200, by_email.text
    assert by_email.json()["contact"]["id"] == MEI
    names = [f["name"] for f in by_email.json()["contact"]["fields"]]
    assert "MobilePhone" not in names and "Email" in names
    # Mei's number is only in the field the profile hides: nothing can match it.
    assert mobile_only.status_code == 200, mobile_only.text
    assert mobile_only.json()["matched"] is False


async def test_a_hidden_email_matches_on_the_phone_given_with_it(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await hide(sf_emulator, Contact=["Email"])
    await connect("ws-1")

    email_only = await lookup(client, auth, email="carla.jones@example.com")
    both = await lookup(client, auth, email="carla.jones@example.com", phone="(415) 555-0100")

    assert email_only.status_code == 200, email_only.text
    assert email_only.json()["matched"] is False
    assert both.status_code == 200, both.text
    assert both.json()["matched_on"] == "phone"
    assert both.json()["contact"]["id"] == CARLA


async def test_every_identifier_hidden_is_a_plain_miss_without_calls(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await hide(sf_emulator, Contact=["Email", "Phone", "MobilePhone"])
    await connect("ws-1")
    await lookup(client, auth, email="warm.up@example.com")  # describe fetched
    sf_emulator.reset_counters()

    answer = await lookup(client, auth, email="carla.jones@example.com", phone="(415) 555-0100")

    assert answer.status_code == 200, answer.text
    assert answer.json()["matched"] is False
    counters = sf_emulator.counters
    assert counters["query"] == 0 and counters["search"] == 0


async def test_leads_match_on_their_visible_fields(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await hide(sf_emulator, Contact=["MobilePhone"], Lead=["Email"])
    await connect("ws-1")
    leads = {"enabled": True, "visible_fields": ["Name", "Company", "Phone", "MobilePhone"]}
    await put_settings(client, auth, leads=leads)

    by_mobile = await lookup(client, auth, phone="+60 11-1111 2222")
    by_email = await lookup(client, auth, email="lead.only@example.com")

    assert by_mobile.status_code == 200, by_mobile.text
    assert by_mobile.json()["matched_object"] == "Lead"
    assert by_mobile.json()["lead"]["id"] == LENA
    assert by_email.status_code == 200, by_email.text
    assert by_email.json()["matched"] is False


async def test_settings_warn_of_each_hidden_match_field(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await hide(sf_emulator, Contact=["MobilePhone"], Lead=["Email", "Phone"])
    await connect("ws-1")

    contacts_only = (await client.get(SETTINGS, headers=auth("ws-1", "agent"))).json()
    assert contacts_only["warnings"] == [
        {
            "code": "match_field_hidden",
            "object": "Contact",
            "field": "MobilePhone",
            "message": contacts_only["warnings"][0]["message"],
        }
    ]
    assert "MobilePhone" in contacts_only["warnings"][0]["message"]

    saved = await put_settings(
        client, auth, leads={"enabled": True, "visible_fields": ["Name", "Company"]}
    )
    hidden = [(w["code"], w["object"], w["field"]) for w in saved["warnings"]]
    assert hidden == [
        ("match_field_hidden", "Contact", "MobilePhone"),
        ("match_field_hidden", "Lead", "Email"),
        ("match_field_hidden", "Lead", "Phone"),
    ]
    # A client that PUTs back what it read (warnings included) is not refused.
    again = await client.put(SETTINGS, json=saved, headers=auth("ws-1", "owner"))
    assert again.status_code == 200, again.text


async def test_a_field_hidden_after_the_describe_was_read_is_no_5xx(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    first = await lookup(client, auth, email="carla.jones@example.com")
    assert first.json()["contact"]["id"] == CARLA

    await hide(sf_emulator, Contact=["MobilePhone", "Title"])
    answer = await lookup(client, auth, email="mei.lin@example.com")

    assert answer.status_code == 200, answer.text
    assert answer.json()["contact"]["id"] == MEI
    names = [f["name"] for f in answer.json()["contact"]["fields"]]
    assert "Title" not in names and "MobilePhone" not in names
