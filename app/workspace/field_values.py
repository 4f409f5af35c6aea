"""Field values checked against the describe before anything is written (an edit, a create):
each value normalized to what Salesforce answers when the field is read back (numbers as
floats rounded to the field's scale, datetimes as `2026-11-24T10:00:00.000+0000`, an empty
text as null), so a value recorded here compares equal to the value Salesforce holds after
the write (`app.salesforce.values.same_value`).
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from app.salesforce.values import (
    NUMBER_TYPES,
    TEXT_TYPES,
    format_datetime,
    is_id,
    parse_datetime,
)
from app.workspace.describes import ContactField

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_PATTERN = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$"
)
TIME_PATTERN = re.compile(r"^\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?Z?$")
# A scale Salesforce uses when the describe gives none for a number field.
MAX_SCALE = 18


# A value and a field name as a request body gives them (an edit, a create). Salesforce's
# longest text fields (long text areas) hold 131,072 characters.
MAX_VALUE_LENGTH = 131_072
FieldValue = (
    Annotated[StrictStr, Field(max_length=MAX_VALUE_LENGTH)]
    | StrictBool
    | StrictInt
    | StrictFloat
    | None
)
FieldName = Annotated[
    StrictStr, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
]


def as_field_map(schema: dict[str, Any]) -> None:
    """The JSON schema of a `dict[FieldName, FieldValue]` with its keys as `propertyNames`
    and its values as `additionalProperties` (pydantic writes `patternProperties`, which
    client generators ignore, and which leaves other keys open)."""
    for pattern, values in schema.pop("patternProperties", {}).items():
        schema["propertyNames"] = {**schema.get("propertyNames", {}), "pattern": pattern}
        schema["additionalProperties"] = values


class InvalidValue(ValueError):
    """The value cannot be written to the field; the message says why."""


def normalize(field: ContactField, value: Any) -> Any:
    """The value as Salesforce will hold it, or InvalidValue."""
    kind = field.type
    if isinstance(value, str) and "\x00" in value:
        # Neither Salesforce nor PostgreSQL (the edit history) can hold a NUL character.
        raise InvalidValue("must not contain the NUL character")
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
        if not isinstance(value, str) or not is_id(value):
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
    parsed = parse_datetime(value, naive_is_utc=False)
    if parsed is None:
        raise InvalidValue("is not a valid date and time")
    return format_datetime(parsed)
