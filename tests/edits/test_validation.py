"""Edit values in Salesforce's form, compared by type; Contact ids checked offline."""

from __future__ import annotations

from typing import Any

import pytest

from app.edits.validation import InvalidValue, canonical_contact_id, normalize
from app.errors import SalesforceContactNotFound, ValidationFailed
from app.salesforce.values import same_value
from app.workspace.describes import ContactField, PicklistValue


def field(type_: str, **kw: Any) -> ContactField:
    values: dict[str, Any] = {
        "name": "F__c",
        "label": "F",
        "type": type_,
        "updateable": True,
        "nillable": True,
        "length": 0,
    }
    values.update(kw)
    return ContactField(**values)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-24T10:00:00Z", "2026-11-24T10:00:00.000+0000"),
        ("2026-11-24T12:30:00+02:30", "2026-11-24T10:00:00.000+0000"),
        ("2026-11-24T10:00:00.123+0000", "2026-11-24T10:00:00.000+0000"),  # whole seconds
        ("2026-11-24T10:00Z", "2026-11-24T10:00:00.000+0000"),
    ],
)
def test_datetimes_become_salesforce_utc(value: str, expected: str) -> None:
    assert normalize(field("datetime"), value) == expected


@pytest.mark.parametrize("value", ["2026-11-24T10:00:00", "2026-11-24", "tomorrow", 1700000000])
def test_datetimes_need_a_time_zone(value: Any) -> None:
    with pytest.raises(InvalidValue):
        normalize(field("datetime"), value)


def test_numbers_are_rounded_to_scale_and_bounded_by_precision() -> None:
    score = field("double", precision=5, scale=2)
    assert normalize(score, 12.3456) == 12.35
    assert normalize(score, 7) == 7.0
    assert normalize(score, -999.99) == -999.99
    for bad in (1000, True, "12", float("nan"), float("inf")):
        with pytest.raises(InvalidValue):
            normalize(score, bad)
    count = field("int", precision=3)
    assert normalize(count, 12.0) == 12
    with pytest.raises(InvalidValue):
        normalize(count, 1.5)
    assert normalize(field("currency"), 10.5) == 10.5


def test_picklists_restricted_or_not() -> None:
    options = (PicklistValue("Web", "Web", True), PicklistValue("Old", "Old", False))
    restricted = field("picklist", restricted_picklist=True, picklist_values=options, length=255)
    assert normalize(restricted, "web") == "Web"
    with pytest.raises(InvalidValue):
        normalize(restricted, "Old")  # inactive
    open_list = field("picklist", picklist_values=options, length=255)
    assert normalize(open_list, "Anything") == "Anything"
    multi = field("multipicklist", restricted_picklist=True, picklist_values=options, length=255)
    assert normalize(multi, "web; Web") == "Web;Web"


def test_empty_and_null() -> None:
    assert normalize(field("string", length=10), "") is None
    with pytest.raises(InvalidValue):
        normalize(field("string", length=10, nillable=False), None)
    with pytest.raises(InvalidValue):
        normalize(field("boolean", nillable=False), None)
    with pytest.raises(InvalidValue):
        normalize(field("date"), "2026-13-01")
    assert normalize(field("url", length=20), "https://example.com") == "https://example.com"


def test_same_value_by_type() -> None:
    assert same_value("double", 85, 85.0)
    assert not same_value("double", 85, 85.01)
    assert same_value("datetime", "2026-11-24T10:00:00.000+0000", "2026-11-24T10:00:00Z")
    assert same_value("string", "", None)
    assert not same_value("string", "a", "A")
    assert same_value("boolean", None, False)
    assert same_value("multipicklist", "A;B", "B;A")
    assert same_value("reference", "0015g00000AbCdE", "0015g00000AbCdEAAA")
    assert not same_value("double", True, 1)


def test_contact_ids() -> None:
    assert canonical_contact_id("0035g0000006SevAAE") == "0035g0000006SevAAE"
    assert canonical_contact_id("0035g0000006Sev") == "0035g0000006SevAAE"
    assert canonical_contact_id("0035g0000006Sevaae") == "0035g0000006SevAAE"
    for not_a_contact in ("0015g0000006SevAAE"[:15], "0035g0000006SevAAA"):
        with pytest.raises(SalesforceContactNotFound):
            canonical_contact_id(not_a_contact)
    for malformed in ("", "003", "0035g0000006Sev-AE", "0035g0000006SevAAEX", "0035g0000006SevA"):
        with pytest.raises(ValidationFailed):
            canonical_contact_id(malformed)
