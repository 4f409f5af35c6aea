"""A record created or changed a moment ago is found although Salesforce's search index lags
by minutes (the emulator's `search_index_delay_seconds`), in both phone modes."""

from __future__ import annotations

import pytest

from tests.helpers.contact_app import ACME, Connect
from tests.helpers.lookups import EmulatorAdmin, contact_with, lookup, put_settings

LAG = 900  # fifteen minutes of search index lag


@pytest.fixture
async def lagging(sf_emulator) -> EmulatorAdmin:
    admin = EmulatorAdmin(sf_emulator)
    await admin.index_delay(LAG)
    return admin


@pytest.mark.parametrize("mode", ["exact", "normalized"])
async def test_a_contact_created_a_second_ago_is_found(
    client, auth, connect: Connect, app, lagging: EmulatorAdmin, mode: str
) -> None:
    await connect("ws-1")
    await put_settings(client, auth, phone_matching=mode)
    created = await lagging.create(
        ACME, "contacts", LastName="Fresh", Email="fresh@example.com", Phone="+1 (646) 555-0199"
    )
    await lagging.advance(1)

    # The search index really has not caught up: SOSL alone finds nothing.
    services = app.state.services
    searched = await services.salesforce.search(
        "ws-1", "FIND {6465550199} IN PHONE FIELDS RETURNING Contact(Id)"
    )
    assert searched == []

    by_email = (await lookup(client, auth, email="FRESH@example.com")).json()
    phone = "+1 (646) 555-0199" if mode == "exact" else "+16465550199"
    by_phone = (await lookup(client, auth, phone=phone)).json()
    both = (await lookup(client, auth, email="nobody@example.com", phone=phone)).json()

    for answer in (by_email, by_phone, both):
        assert answer["matched"] is True, answer
        assert answer["matched_object"] == "Contact"
        assert answer["contact"]["id"] == created["Id"]
    assert by_phone["matched_on"] == "phone" and both["matched_on"] == "phone"


@pytest.mark.parametrize("mode", ["exact", "normalized"])
async def test_a_phone_changed_a_second_ago_is_found_by_its_new_value_only(
    client, auth, connect: Connect, sf_emulator, lagging: EmulatorAdmin, mode: str
) -> None:
    await connect("ws-1")
    await put_settings(client, auth, phone_matching=mode)
    ben = contact_with(sf_emulator, ACME, LastName="Tan")
    await lagging.change(ACME, "contacts", ben["Id"], Phone="+60 17-000 1111")
    await lagging.advance(1)

    new = (await lookup(client, auth, phone="+60 17-000 1111")).json()
    # The search index still holds the old number; the record no longer does.
    old = (await lookup(client, auth, phone="+60198765432")).json()

    assert new["matched"] is True and new["contact"]["id"] == ben["Id"]
    assert old["matched"] is False


async def test_an_older_record_is_found_through_the_search_index(
    client, auth, connect: Connect, sf_emulator, lagging: EmulatorAdmin
) -> None:
    """Past the recency window only the search finds a phone: records older than
    LOOKUP_SEARCH_LAG_SECONDS and already indexed (every seeded Contact) still match."""
    await connect("ws-1")
    ben = contact_with(sf_emulator, ACME, LastName="Tan")
    sf_emulator.reset_counters()

    answer = (await lookup(client, auth, phone="+60198765432")).json()

    assert answer["contact"]["id"] == ben["Id"]
    assert sf_emulator.counters["search"] == 1 and sf_emulator.counters["query"] == 1
