"""Leads in the lookup: after Contacts, only when enabled, unconverted only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.contact_app import ACME, GLOBEX, Connect
from tests.helpers.lookups import EmulatorAdmin, lookup, put_settings

LENA = "00Q5g0000006TPJEA2"  # lead.only@example.com, +1 646 555 0123: a Lead and no Contact
PRIYA_LEAD = "00Q5g0000006TQwEAM"  # converted into Contact 0035g0000006T9rAAE
LEADS_ON = {"enabled": True, "visible_fields": ["Name", "Company", "Email", "Phone", "Status"]}


async def leads_on(client, auth, ws: str = "ws-1", **changes: Any) -> None:
    await put_settings(client, auth, ws, leads=LEADS_ON, **changes)


async def test_a_lead_is_found_only_when_enabled(client, auth, connect: Connect) -> None:
    connection = await connect("ws-1")
    off = (await lookup(client, auth, email="lead.only@example.com")).json()
    assert off["matched"] is False and off["matched_object"] is None
    assert off["contact"] is None and "lead" not in off  # exactly the Contact-only answer
    assert "Salesforce Contact has" in off["hint"]

    await leads_on(client, auth)
    on = (await lookup(client, auth, email="lead.only@example.com")).json()

    assert on["matched"] is True and on["matched_on"] == "email"
    assert on["matched_object"] == "Lead" and on["contact"] is None
    lead = on["lead"]
    assert lead["id"] == LENA
    assert lead["url"] == f"{connection.instance_url}/lightning/r/Lead/{LENA}/view"
    assert [(f["name"], f["label"], f["value"]) for f in lead["fields"]] == [
        ("Name", "Full Name", "Lena Only"),
        ("Company", "Company", "Lead Only Ltd"),
        ("Email", "Email", "lead.only@example.com"),
        ("Phone", "Phone", "+1 646 555 0123"),
        ("Status", "Status", "Open - Not Contacted"),
    ]
    assert all(f["editable"] is False for f in lead["fields"])

    # A Contact answer carries `lead: null` while Leads are enabled.
    contact = (await lookup(client, auth, email="ben.tan@example.com")).json()
    assert contact["matched_object"] == "Contact" and contact["lead"] is None

    # Turning Leads off hides the cached Lead answer at once.
    await put_settings(client, auth, leads={**LEADS_ON, "enabled": False})
    hidden = (await lookup(client, auth, email="lead.only@example.com")).json()
    assert hidden["matched"] is False and "lead" not in hidden and hidden["cached"] is False


async def test_a_contact_wins_over_a_lead_with_the_same_email_or_phone(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    await leads_on(client, auth)
    sf_emulator.reset_counters()

    ana = (await lookup(client, auth, email="ana.souza@example.com")).json()
    assert ana["matched_object"] == "Contact" and ana["contact"]["id"] == "0035g0000006SevAAE"
    # A Contact found by email: one query, no Lead query at all.
    assert sf_emulator.counters["query"] == 1 and sf_emulator.counters.get("query.Lead", 0) == 0
    assert sf_emulator.counters["search"] == 0

    carla = (await lookup(client, auth, phone="(415) 555-0100")).json()
    assert carla["matched_object"] == "Contact"
    assert carla["contact"]["fields"][0]["value"] == "Carla Jones"
    assert sf_emulator.counters.get("query.Lead", 0) == 0


@pytest.mark.parametrize(
    ("mode", "phone"), [("exact", "+1 646 555 0123"), ("normalized", "+1 (646) 555-0123")]
)
async def test_a_lead_matches_by_phone(client, auth, connect: Connect, mode, phone) -> None:
    await connect("ws-1")
    await leads_on(client, auth, phone_matching=mode)

    answer = (await lookup(client, auth, phone=phone)).json()
    mobile = (await lookup(client, auth, phone="+60 11-1111 2222")).json()

    assert answer["matched_object"] == "Lead" and answer["matched_on"] == "phone"
    assert answer["lead"]["id"] == LENA
    assert mobile["lead"]["id"] == LENA
    if mode == "exact":
        near = (await lookup(client, auth, phone="+16465550123")).json()
        assert near["matched"] is False


async def test_calls_when_nothing_matches(client, auth, connect: Connect, sf_emulator) -> None:
    await connect("ws-1")
    await leads_on(client, auth)
    sf_emulator.reset_counters()

    email_only = (await lookup(client, auth, email="nobody@example.com")).json()
    assert email_only["matched"] is False and "Contact or Lead" in email_only["hint"]
    # The Contact query, then one Lead query.
    assert (sf_emulator.counters["query.Contact"], sf_emulator.counters["query.Lead"]) == (1, 1)

    sf_emulator.reset_counters()
    both = (await lookup(client, auth, email="nobody@example.com", phone="+1 212 555 0000")).json()
    assert both["matched"] is False
    # Contact email + recent phone, one search for Contacts and Leads, one Lead query.
    assert sf_emulator.counters["query.Contact"] == 1
    assert sf_emulator.counters["search"] == 1
    assert sf_emulator.counters["query.Lead"] == 1

    sf_emulator.reset_counters()
    assert (await lookup(client, auth, phone="+1 212 555 0000")).json()["matched"] is False
    assert sf_emulator.counters["search"] == 1
    assert sf_emulator.counters["query.Contact"] == 1 and sf_emulator.counters["query.Lead"] == 1


async def test_converted_leads_are_not_shown(
    client, auth, connect: Connect, sf_emulator, clock
) -> None:
    await connect("ws-1")
    await leads_on(client, auth)
    admin = EmulatorAdmin(sf_emulator)

    # Priya's Lead was converted: her Contact answers, never the Lead.
    priya = (await lookup(client, auth, email="priya.raman@example.com")).json()
    assert priya["matched_object"] == "Contact"
    assert PRIYA_LEAD not in str(priya)

    before = (await lookup(client, auth, email="lead.only@example.com")).json()
    assert before["matched_object"] == "Lead"
    converted = await admin.convert(ACME, LENA)

    # Once the cached answer expires, the Contact made from the Lead answers.
    clock.advance(61)
    after = (await lookup(client, auth, email="lead.only@example.com")).json()
    assert after["matched_object"] == "Contact" and after["lead"] is None
    assert after["contact"]["id"] == converted["contact"]["Id"]


async def test_leads_stay_in_their_workspace(client, auth, connect: Connect) -> None:
    await connect("ws-1", ACME)
    await connect("ws-2", GLOBEX)
    await leads_on(client, auth, "ws-1")
    await leads_on(client, auth, "ws-2")

    acme = (await lookup(client, auth, "ws-1", email="lead.only@example.com")).json()
    globex = (await lookup(client, auth, "ws-2", email="lead.only@example.com")).json()

    assert acme["lead"]["id"] == LENA
    assert globex["matched"] is False and globex["lead"] is None
