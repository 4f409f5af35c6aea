"""A phone extension is part of the number: it never silently matches another line."""

from __future__ import annotations

from datetime import UTC, datetime

from app.lookup import matching
from tests.helpers.contact_app import ACME, Connect
from tests.helpers.lookups import EmulatorAdmin, lookup, put_settings


def test_the_extension_is_kept_in_the_key() -> None:
    assert matching.phone_key("+60 12-345 6789", "US") == "+60123456789"
    assert matching.phone_key("+60 12-345 6789 ext. 5", "US") == "+60123456789;ext=5"
    assert matching.phone_key("+60123456789 x5", "US") == "+60123456789;ext=5"
    assert matching.phone_key("+60 12-345 6789 ext. 6", "US") == "+60123456789;ext=6"


def test_a_number_with_an_extension_matches_only_the_same_extension() -> None:
    query = matching.phone_query("+60 12-345 6789 ext. 5", normalized=True, default_region="US")
    assert query is not None
    records = [
        {"Id": "a", "Phone": "+60 12-345 6789"},
        {"Id": "b", "Phone": "+60123456789 ext 5"},
        {"Id": "c", "MobilePhone": "+60 12 345 6789 x6"},
    ]
    assert [r["Id"] for r in matching.phone_matches(records, query, "US")] == ["b"]
    plain = matching.phone_query("+60123456789", normalized=True, default_region="US")
    assert plain is not None
    assert [r["Id"] for r in matching.phone_matches(records, plain, "US")] == ["a"]


def test_queries_only_filter_unindexed_fields_behind_an_indexed_one() -> None:
    """Phone and MobilePhone are never the only condition of a branch: each branch of each
    query is anchored on Email or SystemModstamp (both indexed)."""
    since = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)
    for normalized in (False, True):
        phone = matching.phone_query("+60 12-345 6789", normalized=normalized, default_region="US")
        assert phone is not None
        recent = matching.recent_phone_query("Contact", ["Id"], since, phone)
        assert "WHERE (SystemModstamp >= 2026-11-30T10:00:00Z AND (Phone" in recent
        both = matching.email_query("Lead", ["Id"], "a@example.com", (since, phone))
        assert both.startswith(
            "SELECT Id FROM Lead WHERE IsConverted = false AND (Email = 'a@example.com' OR "
            "(SystemModstamp >= 2026-11-30T10:00:00Z AND (Phone"
        )


async def test_an_extension_does_not_match_the_main_line(
    client, auth, connect: Connect, sf_emulator
) -> None:
    await connect("ws-1")
    await put_settings(client, auth, phone_matching="normalized")
    desk = await EmulatorAdmin(sf_emulator).create(
        ACME, "contacts", LastName="Desk", Phone="+60 12-345 6789 ext. 5"
    )

    # Ana's number is +60 12-345 6789: the extension is another line.
    ext5 = (await lookup(client, auth, phone="+60123456789 ext 5")).json()
    ext6 = (await lookup(client, auth, phone="+60 12-345 6789 ext. 6")).json()
    main = (await lookup(client, auth, phone="+60 12 345 6789")).json()

    assert ext5["matched"] is True and ext5["contact"]["id"] == desk["Id"]
    assert ext6["matched"] is False
    assert main["contact"]["fields"][0]["value"] == "Ana Souza"
