from __future__ import annotations

import pytest

from emulator.salesforce import SalesforceEmulator
from emulator.salesforce.soql import SOQLError
from emulator.salesforce.sosl import parse_sosl, phone_matches, run_search

from .helpers import (
    ACME,
    ANA,
    CARLA,
    DELETED,
    LEAD_ANA,
    MEI,
    TINY_PLAIN,
    TINY_SPACED,
    V,
    bearer,
)


@pytest.fixture(scope="module")
def seeded() -> SalesforceEmulator:
    return SalesforceEmulator()


def search(emu: SalesforceEmulator, q: str) -> list[dict]:
    parsed = parse_sosl(q)
    rows = {t.type.name: emu.searchable(ACME, t.type.name) for t in parsed.targets}
    return run_search(parsed, rows, "62.0")


def ids(q: str, emu: SalesforceEmulator) -> list[str]:
    return [r["Id"] for r in search(emu, q)]


RET = " IN PHONE FIELDS RETURNING Contact(Id, Phone, MobilePhone)"


def test_phone_formats_match_regardless_of_punctuation(seeded):
    assert ids(r"FIND {\+60123456789}" + RET, seeded) == [ANA]
    assert ids(r"FIND {\+60 12\-345 6789}" + RET, seeded) == [ANA]
    assert ids("FIND {4155550100}" + RET, seeded) == [CARLA]
    assert ids(r"FIND {\(415\) 555\-0100}" + RET, seeded) == [CARLA]
    assert ids(r"FIND {\+14155550100}" + RET, seeded) == [CARLA]
    assert ids("FIND {0123456789}" + RET, seeded) == [ANA]  # local trunk-prefix form
    assert ids(r"FIND {\+6591234567}" + RET, seeded) == [MEI]  # MobilePhone only


def test_short_numbers_and_deleted(seeded):
    assert set(ids("FIND {123}" + RET, seeded)) == {TINY_SPACED, TINY_PLAIN}
    assert ids(r"FIND {\+12125550199}" + RET, seeded) == []  # only on a deleted contact
    assert DELETED not in ids("FIND {2125550199}" + RET, seeded)
    assert not phone_matches("12", "+1 212 555 0142")  # no suffix match under 7 digits


def test_returning_fields_leads_and_limit(seeded):
    rows = search(seeded, r"FIND {\+60123456789}" + RET + ", Lead(Id, Phone)")
    assert [(r["attributes"]["type"], r["Id"]) for r in rows] == [
        ("Contact", ANA),
        ("Lead", LEAD_ANA),
    ]
    assert set(rows[0]) == {"attributes", "Id", "Phone", "MobilePhone"}
    assert rows[0]["attributes"]["url"] == f"{V}/sobjects/Contact/{ANA}"
    assert len(search(seeded, "FIND {123}" + RET + " LIMIT 1")) == 1
    only_id = search(seeded, "FIND {4155550100} IN PHONE FIELDS RETURNING Contact")
    assert set(only_id[0]) == {"attributes", "Id"}


def test_reserved_characters_must_be_escaped():
    for q in ("FIND {+60123456789}", "FIND {(415) 555-0100}", "FIND {a:b}"):
        with pytest.raises(SOQLError) as info:
            parse_sosl(q + RET)
        assert info.value.code == "MALFORMED_SEARCH"
    with pytest.raises(SOQLError) as info:
        parse_sosl("FIND {1}" + RET)
    assert "must be longer than one character" in info.value.message
    with pytest.raises(SOQLError) as info:
        parse_sosl("FIND {12345} IN PHONE FIELDS RETURNING Contact(Nope)")
    assert info.value.code == "INVALID_FIELD"


def test_search_over_http(client, emu, token):
    q = r"FIND {\+60 12\-345 6789} IN PHONE FIELDS RETURNING Contact(Id, Email)"
    resp = client.get(f"{V}/search", params={"q": q}, headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json() == {
        "searchRecords": [
            {
                "attributes": {"type": "Contact", "url": f"{V}/sobjects/Contact/{ANA}"},
                "Id": ANA,
                "Email": "ana.souza@example.com",
            }
        ]
    }
    bad = client.get(f"{V}/search", params={"q": "FIND {+6012}" + RET}, headers=bearer(token))
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "MALFORMED_SEARCH"
    assert emu.counters["search"] == 2
