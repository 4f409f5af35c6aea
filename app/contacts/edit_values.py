"""Field values of a Contact edit: checked against the describe, in Salesforce's own form.

Values are normalized to what Salesforce answers when the field is read back (numbers as
floats rounded to the field's scale, datetimes as `2026-11-24T10:00:00.000+0000`, an empty
text as null), so a value recorded in the edit history compares equal to the value Salesforce
holds after the write. `same_value` compares by type, never by JSON text.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from app.settings.fields import ContactField

# Text types Salesforce stores as strings with a `length` limit.
TEXT_TYPES = frozenset(
    {"string", "textarea", "url", "encryptedstring", "combobox", "picklist", "multipicklist"}
)
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_PATTERN = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$"
)
TIME_PATTERN = re.compile(r"^\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?Z?$")
# A scale Salesforce uses when the describe gives none for a number field.
MAX_SCALE = 18


class InvalidValue(ValueError):
    """The value cannot be written to the field; the message says why."""


def normalize(field: ContactField, value: Any) -> Any:
    """The value as Salesforce will hold it, or InvalidValue."""
    kind = field.type
    if value is None or (value == "" and kind not in ("boolean",)):
        if kind == "boolean" or not field.nillable:
            raise InvalidValue("may not be empty")
        return None
    if kind in TEXT_TYPES:
        return _text(field, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidValue("must be true or false")
        return value
    if kind in NUMBER_TYPES:
        return _number(field, value, integer=False)
    if kind == "int":
        return _number(field, value, integer=True)
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    if kind == "time":
        if not isinstance(value, str) or not TIME_PATTERN.match(value):
            raise InvalidValue("must be a time as HH:MM:SS")
        return value
    if kind in ("reference", "id"):
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise InvalidValue("must be a Salesforce id of 15 or 18 letters and digits")
        return value
    if not isinstance(value, str):
        raise InvalidValue("must be a string")
    return value


def _text(field: ContactField, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue("must be a string")
    if field.length and len(value) > field.length:
        raise InvalidValue(f"is longer than {field.length} characters ({len(value)})")
    if field.type == "picklist":
        return _picklist_value(field, value)
    if field.type == "multipicklist":
        chosen = [part.strip() for part in value.split(";") if part.strip()]
        return ";".join(_picklist_value(field, part) for part in chosen)
    return value


def _picklist_value(field: ContactField, value: str) -> str:
    if not field.restricted_picklist:
        return value
    allowed = [p.value for p in field.picklist_values if p.active]
    if value in allowed:
        return value
    for candidate in allowed:  # Salesforce matches picklist values case-insensitively
        if candidate.lower() == value.lower():
            return candidate
    shown = ", ".join(allowed[:20]) + (", ..." if len(allowed) > 20 else "")
    raise InvalidValue(f"{value!r} is not one of the picklist values: {shown}")


def _number(field: ContactField, value: Any, *, integer: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue("must be a number")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise InvalidValue("must be a finite number")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise InvalidValue("must be a whole number")
        number: float | int = int(value)
    else:
        # Salesforce rounds to the field's scale; record what it will hold.
        scale = field.scale if field.precision else MAX_SCALE
        number = round(float(value), min(scale, MAX_SCALE))
    if field.precision:
        digits = field.precision - (0 if integer else field.scale)
        if abs(number) >= 10**digits:
            raise InvalidValue(
                f"is outside the valid range (at most {digits} digits before the decimal point)"
            )
    return number


def _date(value: Any) -> str:
    if not isinstance(value, str) or not DATE_PATTERN.match(value):
        raise InvalidValue("must be a date as YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise InvalidValue("is not a valid calendar date") from None
    return value


def _datetime(value: Any) -> str:
    if not isinstance(value, str) or not DATETIME_PATTERN.match(value):
        raise InvalidValue("must be a date and time with a time zone, e.g. 2026-11-24T10:00:00Z")
    parsed = parse_datetime(value)
    if parsed is None:
        raise InvalidValue("is not a valid date and time")
    return format_datetime(parsed)


def parse_datetime(value: Any) -> datetime | None:
    """Salesforce's `2026-11-24T10:00:00.000+0000` and ISO 8601 forms, aware, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def format_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def same_value(field_type: str, a: Any, b: Any) -> bool:
    """Whether two values of a field are the same for Salesforce."""
    if a == "":
        a = None
    if b == "":
        b = None
    if a is None or b is None:
        if field_type == "boolean":
            return bool(a) == bool(b)
        return a is None and b is None
    if field_type in NUMBER_TYPES or field_type == "int":
        if isinstance(a, bool) or isinstance(b, bool):
            return a is b
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    if field_type == "datetime":
        left, right = parse_datetime(a), parse_datetime(b)
        if left is not None and right is not None:
            return left.replace(microsecond=left.microsecond // 1000 * 1000) == right.replace(
                microsecond=right.microsecond // 1000 * 1000
            )
    if field_type == "multipicklist" and isinstance(a, str) and isinstance(b, str):
        return sorted(a.split(";")) == sorted(b.split(";"))
    if field_type in ("reference", "id") and isinstance(a, str) and isinstance(b, str):
        return a[:15] == b[:15]
    return bool(a == b)
