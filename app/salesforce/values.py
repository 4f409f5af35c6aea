"""Salesforce's value formats: record ids, date-times and field values as Salesforce holds
them, and how two values of a field compare."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

# -- ids ----------------------------------------------------------------------------------

ID_PATTERN = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
CONTACT_PREFIX = "003"
LEAD_PREFIX = "00Q"


def id15(record_id: str) -> str:
    """The case-sensitive 15 characters that identify a record (of a 15 or 18 form)."""
    return record_id[:15]


def same_id(a: str, b: str) -> bool:
    """Salesforce ids come as 15 (case-sensitive) or 18 characters; compare the first 15."""
    return a[:15] == b[:15]


def is_id(value: str) -> bool:
    """15 or 18 letters and digits: the shape of a Salesforce id."""
    return bool(ID_PATTERN.match(value))


def checksum_suffix(base: str) -> str:
    """The three characters that make a 15-character id an 18-character one."""
    return "".join(
        _CHECKSUM_ALPHABET[
            sum(1 << bit for bit, char in enumerate(base[i : i + 5]) if "A" <= char <= "Z")
        ]
        for i in range(0, 15, 5)
    )


def id18(record_id: str) -> str | None:
    """The 18-character form of an id given with 15 or 18 characters; None when the given
    suffix does not match the checksum."""
    base = record_id[:15]
    suffix = checksum_suffix(base)
    if len(record_id) == 18 and record_id[15:].upper() != suffix:
        return None
    return base + suffix


# -- date-times ---------------------------------------------------------------------------


def parse_datetime(value: Any, *, naive_is_utc: bool = True) -> datetime | None:
    """`2026-11-24T10:00:00.000+0000` (REST), `...000Z` (SOAP) or ISO 8601, as an aware
    datetime; None when unreadable. A value without a zone is UTC, or None when
    `naive_is_utc` is off."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return parsed
    return parsed.replace(tzinfo=UTC) if naive_is_utc else None


def format_datetime(value: datetime) -> str:
    """As Salesforce answers it: `2026-11-24T10:00:00.000+0000`. Salesforce holds whole
    seconds (a written `.500` reads back `.000`), so the fraction is dropped here too."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".000+0000"


# -- field values -------------------------------------------------------------------------

# Text types Salesforce stores as strings with a `length` limit.
TEXT_TYPES = frozenset(
    {"string", "textarea", "url", "encryptedstring", "combobox", "picklist", "multipicklist"}
)
NUMBER_TYPES = frozenset({"double", "currency", "percent"})


def same_number(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    except (TypeError, ValueError):
        return False


def same_value(field_type: str, a: Any, b: Any) -> bool:
    """Whether two values of a field of this type are the same for Salesforce (by type,
    never by JSON text)."""
    if a == "":
        a = None
    if b == "":
        b = None
    if a is None or b is None:
        if field_type == "boolean":
            return bool(a) == bool(b)
        return a is None and b is None
    if field_type in NUMBER_TYPES or field_type == "int":
        return same_number(a, b)
    if field_type == "datetime":
        left = parse_datetime(a, naive_is_utc=False)
        right = parse_datetime(b, naive_is_utc=False)
        if left is not None and right is not None:
            # Whole seconds: what Salesforce holds of either.
            return left.replace(microsecond=0) == right.replace(microsecond=0)
    if field_type == "multipicklist" and isinstance(a, str) and isinstance(b, str):
        return sorted(a.split(";")) == sorted(b.split(";"))
    if field_type in ("reference", "id") and isinstance(a, str) and isinstance(b, str):
        return same_id(a, b)
    return bool(a == b)
