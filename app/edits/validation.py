"""What an edit may write: the Contact or Lead id, the fields (visible, editable) and their values,
checked against the describe before anything is written.

Values are normalized to what Salesforce answers when the field is read back (numbers as
floats rounded to the field's scale, datetimes as `2026-11-24T10:00:00.000+0000`, an empty
text as null), so a value recorded in the edit history compares equal to the value Salesforce
holds after the write (`app.salesforce.values.same_value`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from app import errors as app_errors
from app.salesforce.values import (
    CONTACT_PREFIX,
    LEAD_PREFIX,
    NUMBER_TYPES,
    TEXT_TYPES,
    format_datetime,
    id18,
    is_id,
    parse_datetime,
)
from app.workspace.contacts import visible_fields
from app.workspace.context import WorkspaceContext
from app.workspace.describes import NOT_EDITABLE_TYPES, ContactDescribe, ContactField, SObject

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


ID_PREFIXES: dict[SObject, str] = {"Contact": CONTACT_PREFIX, "Lead": LEAD_PREFIX}


def canonical_record_id(raw: str, sobject: SObject = "Contact") -> str:
    """The 18-character id of a Contact (or Lead) id given with 15 or 18 characters.

    A string of the wrong shape is a 422; a well-formed id that cannot be one of the object's
    (another object's prefix, a checksum that does not match) is reported as not found."""
    name = "lead_id" if sobject == "Lead" else "contact_id"
    if not is_id(raw):
        raise app_errors.ValidationFailed(
            f"{name}: a Salesforce {sobject} id has 15 or 18 letters and digits",
            errors=[{"field": name, "message": "must be 15 or 18 letters and digits"}],
        )
    full = id18(raw)
    if full is None or not raw.startswith(ID_PREFIXES[sobject]):
        raise app_errors.record_not_found(sobject)
    return full


def canonical_contact_id(raw: str) -> str:
    return canonical_record_id(raw, "Contact")


def check_editable(
    context: WorkspaceContext,
    describe: ContactDescribe,
    names: Iterable[str],
    sobject: SObject = "Contact",
) -> list[ContactField]:
    """The fields in the describe's spelling; 422 `field_not_editable` naming every refusal.
    A Lead's visible fields are `leads.visible_fields`."""
    visible = {name.lower() for name in visible_fields(context, sobject)}
    fields: list[ContactField] = []
    problems: list[dict[str, str]] = []
    for name in names:
        field = describe.field(name)
        if field is None:
            reason = f"is not a field of {sobject}"
        elif field.name.lower() not in visible:
            reason = "is not one of the workspace's visible fields"
        elif field.type in NOT_EDITABLE_TYPES:
            reason = f"is of type {field.type}; email and phone fields are edited in Salesforce"
        elif not field.updateable:
            reason = "is read-only in Salesforce (a formula, system or locked field)"
        else:
            fields.append(field)
            continue
        problems.append({"field": name, "message": f"{name} {reason}"})
    if problems:
        raise app_errors.FieldNotEditable(
            "These fields cannot be edited: "
            + "; ".join(problem["message"] for problem in problems),
            errors=problems,
        )
    return fields


def check_values(fields: list[ContactField], values: list[Any]) -> list[tuple[ContactField, Any]]:
    """Each value in the form Salesforce will hold; 422 `validation_error` naming each bad one."""
    checked: list[tuple[ContactField, Any]] = []
    problems: list[dict[str, str]] = []
    seen: set[str] = set()
    for field, value in zip(fields, values, strict=True):
        if field.name in seen:
            problems.append({"field": field.name, "message": "is given more than once"})
            continue
        seen.add(field.name)
        try:
            checked.append((field, normalize(field, value)))
        except InvalidValue as exc:
            problems.append({"field": field.name, "message": str(exc)})
    if problems:
        raise app_errors.ValidationFailed(
            "; ".join(f"fields.{p['field']}: {p['message']}" for p in problems),
            errors=[{"field": f"fields.{p['field']}", "message": p["message"]} for p in problems],
        )
    return checked
