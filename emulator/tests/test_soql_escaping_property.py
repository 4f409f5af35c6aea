"""Property: any text, escaped the documented way (backslash first, then quote),
round-trips through a SOQL string literal and finds the record holding it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.salesforce import SalesforceEmulator
from emulator.salesforce.soql import execute, parse_soql

from .helpers import GLOBEX

STATE = SalesforceEmulator()
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda s: s.strip() == s)


def soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_escaped_literals_round_trip(value: str) -> None:
    rec = STATE.add_contact(GLOBEX, {"LastName": value, "Title": "prop"})
    query = parse_soql(f"SELECT Id, LastName FROM Contact WHERE LastName = {soql_quote(value)}")
    rows = execute(query, STATE.snapshot(GLOBEX, "Contact"))
    assert rec["Id"] in {r["Id"] for r in rows}
    assert all(r["LastName"].lower() == value.lower() for r in rows)
    STATE.delete_contact(GLOBEX, rec["Id"])
