"""QUERY_TIMEOUT (the org's table is too large for the OR of a lookup query): the lookup is
answered by the same lookup split into separately selective queries, never a 502. The
emulator's `large-tables` switch times out non-selective filters as Salesforce does; calls
are counted at the emulator."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.contact_app import ACME, Connect
from tests.helpers.lookups import lookup, put_settings

CARLA = "0035g0000006SjLAAU"  # carla.jones@example.com, Phone (415) 555-0100
LENA = "00Q5g0000006TPJEA2"  # Lead lead.only@example.com, +1 646 555 0123


async def large_tables(sf: Any, *objects: str) -> None:
    async with httpx.AsyncClient(base_url=sf.base_url + "/__emulator") as http:
        answer = await http.put(f"/orgs/{ACME}/large-tables", json={"objects": list(objects)})
    assert answer.status_code == 200, answer.text


async def test_an_email_and_phone_lookup_is_split_when_the_or_times_out(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    await large_tables(sf_emulator, "Contact")
    await lookup(client, auth, email="warm.up@example.com")  # describe fetched
    sf_emulator.reset_counters()

    by_email = await lookup(client, auth, email="carla.jones@example.com", phone="+1 000 0000")

    assert by_email.status_code == 200, by_email.text
    assert by_email.json()["matched_on"] == "email"
    assert by_email.json()["contact"]["id"] == CARLA
    # The OR that timed out, then its two halves (Email; SystemModstamp AND phone).
    assert sf_emulator.counters["query.Contact"] == 3

    sf_emulator.reset_counters()
    by_phone = await lookup(client, auth, email="nobody@example.com", phone="(415) 555-0100")
    assert by_phone.status_code == 200, by_phone.text
    assert by_phone.json()["matched_on"] == "phone"
    assert by_phone.json()["contact"]["id"] == CARLA
    # The org is known to time out: split at once, no timed-out query first.
    assert sf_emulator.counters["query.Contact"] == 2


async def test_a_lead_lookup_is_split_too(client, auth, connect: Connect, sf_emulator) -> None:
    await connect("ws-1")
    leads = {"enabled": True, "visible_fields": ["Name", "Company", "Email", "Phone"]}
    await put_settings(client, auth, leads=leads)
    await large_tables(sf_emulator, "Contact", "Lead")

    answer = await lookup(client, auth, email="lead.only@example.com", phone="+1 646 555 0123")

    assert answer.status_code == 200, answer.text
    assert answer.json()["matched_object"] == "Lead"
    assert answer.json()["lead"]["id"] == LENA
    assert sf_emulator.counters["query.Lead"] == 3


async def test_selective_lookups_are_untouched_by_large_tables(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    await large_tables(sf_emulator, "Contact")
    await lookup(client, auth, email="warm.up@example.com")
    sf_emulator.reset_counters()

    answer = await lookup(client, auth, email="carla.jones@example.com")

    assert answer.status_code == 200 and answer.json()["contact"]["id"] == CARLA
    assert sf_emulator.counters["query.Contact"] == 1
