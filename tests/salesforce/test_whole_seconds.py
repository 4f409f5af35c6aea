"""Salesforce holds datetimes in whole seconds and reads numbers without exponents: SOQL
literals and written values follow, and the strict emulator's parser accepts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.salesforce.soql import UnsafeSOQL, format_soql, literal
from app.salesforce.values import format_datetime, same_value
from emulator.salesforce.soql import parse_soql


def test_datetime_literals_are_whole_seconds() -> None:
    moment = datetime(2026, 11, 24, 10, 0, 5, 987654, tzinfo=UTC)
    assert literal(moment) == "2026-11-24T10:00:05Z"
    plus_eight = datetime(2026, 11, 24, 18, 0, 5, 500000, tzinfo=timezone(timedelta(hours=8)))
    assert literal(plus_eight) == "2026-11-24T10:00:05Z"
    parse_soql(format_soql("SELECT Id FROM Contact WHERE CreatedDate > {}", moment))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-7, "0.0000001"),
        (1.5e16, "15000000000000000"),
        (12345678901234567890.0, "12345678901234567000"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1.50E-5"), "0.0000150"),
        (10**25, "10000000000000000000000000"),
    ],
)
def test_numbers_are_never_in_exponent_notation(value: object, text: str) -> None:
    assert literal(value) == text
    parse_soql(format_soql("SELECT Id FROM Contact WHERE Customer_Score__c > {}", value))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN")])
def test_numbers_that_are_not_finite_are_refused(value: object) -> None:
    with pytest.raises(UnsafeSOQL):
        literal(value)


def test_written_datetimes_and_comparisons_drop_milliseconds() -> None:
    moment = datetime(2026, 11, 24, 10, 0, 5, 500000, tzinfo=UTC)
    assert format_datetime(moment) == "2026-11-24T10:00:05.000+0000"
    # What was written with .500 is what Salesforce answers with .000: the same value.
    assert same_value("datetime", "2026-11-24T10:00:05.500Z", "2026-11-24T10:00:05.000+0000")
    assert not same_value("datetime", "2026-11-24T10:00:05Z", "2026-11-24T10:00:06.000+0000")
