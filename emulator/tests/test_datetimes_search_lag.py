"""Whole-second datetimes, Salesforce's strict SOQL literals, and a search index that
lags behind SOQL by a configurable delay on the emulator's clock."""

from __future__ import annotations

import pytest

from .helpers import ACME, ANA, V, bearer

TASK = f"{V}/sobjects/Task"


def test_written_millis_come_back_as_000(client, emu, token):
    h = bearer(token)
    made = client.post(
        TASK,
        json={"WhoId": ANA, "IsReminderSet": True, "ReminderDateTime": "2026-11-30T10:00:00.500Z"},
        headers=h,
    ).json()
    got = client.get(f"{TASK}/{made['id']}", params={"fields": "ReminderDateTime"}, headers=h)
    assert got.json()["ReminderDateTime"] == "2026-11-30T10:00:00.000+0000"
    client.patch(
        f"{TASK}/{made['id']}",
        json={"ReminderDateTime": "2026-12-01T08:30:15.999+01:00"},
        headers=h,
    )
    got = client.get(f"{TASK}/{made['id']}", params={"fields": "ReminderDateTime"}, headers=h)
    assert got.json()["ReminderDateTime"] == "2026-12-01T07:30:15.000+0000"
    seeded = emu.add_contact(ACME, {"LastName": "M"}, created_date="2026-01-01T10:00:00.750Z")
    assert seeded["CreatedDate"] == "2026-01-01T10:00:00.000+0000"


def _query(client, token, where):
    q = f"SELECT Id FROM Contact WHERE {where}"
    return client.get(f"{V}/query", params={"q": q}, headers=bearer(token))


@pytest.mark.parametrize(
    "literal", ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00+08:00", "2025-01-01T00:00:00-05:30"]
)
def test_valid_datetime_literals(client, token, literal):
    assert _query(client, token, f"CreatedDate > {literal}").status_code == 200


@pytest.mark.parametrize(
    "literal",
    ["2025-01-01T00:00:00.000Z", "2025-01-01T00:00:00.5+08:00", "2025-01-01T00:00:00+0800"],
)
def test_strict_datetime_literals_are_malformed(client, token, literal):
    resp = _query(client, token, f"CreatedDate > {literal}")
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_lenient_datetime_literals_behind_a_switch(client, token):
    client.put("/__emulator/settings", json={"strict_soql_datetimes": False})
    assert _query(client, token, "CreatedDate > 2025-01-01T00:00:00.000Z").status_code == 200


@pytest.mark.parametrize("number", ["1e2", "1.5E+3", "2E-1"])
def test_exponent_numbers_are_malformed(client, token, number):
    resp = _query(client, token, f"Customer_Score__c > {number}")
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "MALFORMED_QUERY"


def _search(client, token, term):
    q = f"FIND {{{term}}} IN PHONE FIELDS RETURNING Contact(Id, Phone)"
    return client.get(f"{V}/search", params={"q": q}, headers=bearer(token)).json()["searchRecords"]


def test_search_index_lags_soql_does_not(client, emu, token):
    client.put("/__emulator/settings", json={"search_index_delay_seconds": 900})
    made = client.post(
        f"{V}/sobjects/Contact",
        json={"LastName": "Fresh", "Phone": "+1 212 555 0188"},
        headers=bearer(token),
    ).json()
    assert _query(client, token, "Phone = '+1 212 555 0188'").json()["totalSize"] == 1
    assert _search(client, token, "2125550188") == []
    client.post("/__emulator/clock", json={"advance_seconds": 899})
    assert _search(client, token, "2125550188") == []
    client.post("/__emulator/clock", json={"advance_seconds": 2})
    assert [r["Id"] for r in _search(client, token, "2125550188")] == [made["id"]]
    # a change: the old number stays searchable until the index catches up
    client.patch(
        f"{V}/sobjects/Contact/{made['id']}",
        json={"Phone": "+1 212 555 0177"},
        headers=bearer(token),
    )
    assert [r["Phone"] for r in _search(client, token, "2125550188")] == ["+1 212 555 0177"]
    assert _search(client, token, "2125550177") == []
    client.post("/__emulator/clock", json={"advance_seconds": 901})
    assert _search(client, token, "2125550188") == []
    assert [r["Id"] for r in _search(client, token, "2125550177")] == [made["id"]]
