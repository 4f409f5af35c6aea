"""Validation of record writes (REST create/update), in Salesforce's order:
JSON deserialisation and unknown fields, field-level security, system
validation (required, length, email, picklist, id), then the org's custom
validation rules."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Protocol

from .errors import SFError
from .schema import TEXT_TYPES, Field, SObjectType
from .util import ID_RE, fmt_datetime, parse_date, parse_datetime

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
REF_PREFIX = {
    "Account": "001",
    "User": "005",
    "Group": "00G",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Case": "500",
}


class OrgLookups(Protocol):
    """What validation needs to know about the org's other records."""

    def reference_exists(self, target_prefix: str, record_id: str) -> bool: ...

    def reference_deleted(self, target_prefix: str, record_id: str) -> bool: ...

    def unique_holder(self, field: str, value: Any, exclude_id: str | None) -> str | None: ...


def _position(raw: str, key: str) -> tuple[int, int]:
    """Line/column of the value of `key` in the raw JSON (1-based), like Jackson reports."""
    idx = raw.find(f'"{key}"')
    if idx < 0:
        return 1, 1
    colon = raw.find(":", idx)
    pos = colon + 1
    while pos < len(raw) and raw[pos] in " \t\r\n":
        pos += 1
    # Jackson points just past the offending token.
    end = pos
    if end < len(raw) and raw[end] == '"':
        end = raw.find('"', end + 1) + 1 or len(raw)
    else:
        while end < len(raw) and raw[end] not in ",}] \t\r\n":
            end += 1
    line = raw.count("\n", 0, end) + 1
    col = end - (raw.rfind("\n", 0, end) + 1) + 1
    return line, col


def _json_token(value: Any) -> tuple[str, str]:
    if isinstance(value, bool):
        return "VALUE_" + ("TRUE" if value else "FALSE"), json.dumps(value)
    if isinstance(value, int):
        return "VALUE_NUMBER_INT", str(value)
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT", repr(value)
    if isinstance(value, str):
        return "VALUE_STRING", value
    if isinstance(value, list):
        return "START_ARRAY", "["
    return "START_OBJECT", "{"


def _parser_error(java_type: str, key: str, value: Any, raw: str) -> SFError:
    token, text = _json_token(value)
    line, col = _position(raw, key)
    return SFError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {java_type} from {token} value {text} or request "
        f"may be missing a required field at [line:{line}, column:{col}]",
    )


def coerce(f: Field, key: str, value: Any, raw: str) -> Any:
    """JSON value -> stored value, or JSON_PARSER_ERROR like Salesforce's deserialiser."""
    if value is None:
        return False if f.type == "boolean" else None
    if f.type in TEXT_TYPES or f.type in ("reference", "id"):
        if isinstance(value, dict | list):
            return _raise(_parser_error("string", key, value, raw))
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = str(value)
        return text if text != "" else None
    if f.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _raise(_parser_error("boolean", key, value, raw))
    if f.type in ("double", "int", "currency", "percent"):
        if isinstance(value, bool) or isinstance(value, dict | list):
            return _raise(_parser_error(f.type, key, value, raw))
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return _raise(_parser_error(f.type, key, value, raw))
        else:
            number = float(value)
        if math.isnan(number) or math.isinf(number):
            return _raise(_parser_error(f.type, key, value, raw))
        return number
    if f.type == "date":
        if isinstance(value, str) and parse_date(value) is not None:
            return value
        return _raise(_parser_error("date", key, value, raw))
    if f.type == "datetime":
        dt = parse_datetime(value) if isinstance(value, str) else None
        if dt is None:
            return _raise(_parser_error("datetime", key, value, raw))
        # Whole seconds: a written .500 is stored (and read back) as .000.
        return fmt_datetime(dt.replace(microsecond=0))
    return value


def _raise(err: SFError) -> Any:
    raise err


def validate_write(
    t: SObjectType,
    body: Any,
    raw: str,
    *,
    creating: bool,
    current: dict[str, Any] | None,
    rules: list[dict[str, Any]],
    lookups: OrgLookups,
) -> dict[str, Any]:
    """Check a create/update body; return {canonical field name: stored value}."""
    if not isinstance(body, dict):
        token, text = _json_token(body)
        raise SFError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {t.name} from {token} value {text} or request "
            "may be missing a required field at [line:1, column:1]",
        )
    body = {k: v for k, v in body.items() if k != "attributes"}
    values: dict[str, Any] = {}
    fields: dict[str, Field] = {}
    for key, value in body.items():
        f = t.field(key)
        if f is None:
            raise SFError(
                400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {t.name}"
            )
        values[f.name] = coerce(f, key, value, raw)
        fields[f.name] = f

    locked = [
        name for name, f in fields.items() if not (f.createable if creating else f.updateable)
    ]
    if locked:
        raise SFError(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.",
            locked,
        )

    merged = dict(current or {})
    merged.update(values)
    missing = [
        f.name
        for f in t.fields
        if (f.createable or f.updateable)
        and not f.nillable
        and f.default is None
        and (f.name in values or creating)
        and merged.get(f.name) in (None, "")
    ]
    if missing:
        raise SFError(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )

    for name, value in values.items():
        _check_value(fields[name], value, lookups)

    for rule in rules:
        if rule.get("object", "Contact").lower() != t.name.lower():
            continue
        if _rule_fires(rule, merged):
            where = rule.get("error_field")
            raise SFError(
                400,
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                rule["message"],
                [where] if where else [],
            )
    current_id = (current or {}).get("Id")
    for name, value in values.items():
        f = fields[name]
        if f.unique and value not in (None, ""):
            holder = lookups.unique_holder(f.name, value, current_id)
            if holder:
                raise SFError(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} on record with id: {holder}",
                    [f.name],
                )
    return values


def _check_value(f: Field, value: Any, lookups: OrgLookups) -> None:
    if value is None:
        return
    # Salesforce measures text in UTF-16 code units: an emoji outside the BMP counts two.
    if f.type in TEXT_TYPES and f.length and len(value.encode("utf-16-le")) // 2 > f.length:
        raise SFError(
            400,
            "STRING_TOO_LONG",
            f"{f.label}: data value too large: {value} (max length={f.length})",
            [f.name],
        )
    if f.type == "email" and not EMAIL_RE.match(value):
        raise SFError(
            400, "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {value}", [f.name]
        )
    if f.type == "picklist" and f.restricted and value not in f.picklist:
        raise SFError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{f.label}: bad value for restricted picklist field: {value}",
            [f.name],
        )
    if f.type == "double" and f.precision:
        if abs(value) >= 10 ** (f.precision - f.scale):
            raise SFError(
                400,
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{f.label}: value outside of valid range on numeric field: {value:g}",
                [f.name],
            )
    if f.type == "reference":
        if not ID_RE.match(value):
            raise SFError(
                400, "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [f.name]
            )
        prefixes = {REF_PREFIX.get(target, "") for target in f.reference_to}
        if value[:3] not in prefixes:
            raise SFError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                f"{f.label}: id value of incorrect type: {value}",
                [f.name],
            )
        if lookups.reference_deleted(value[:3], value):
            raise SFError(400, "ENTITY_IS_DELETED", "entity is deleted", [f.name])
        if not lookups.reference_exists(value[:3], value):
            raise SFError(
                400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name]
            )


def _rule_fires(rule: dict[str, Any], rec: dict[str, Any]) -> bool:
    value = rec.get(rule["field"])
    op = rule.get("operator", "contains")
    expected = rule.get("value")
    if op == "contains":
        return isinstance(value, str) and str(expected).lower() in value.lower()
    if op == "equals":
        return value == expected
    if op == "blank":
        return value in (None, "")
    if op == "greater_than":
        return value is not None and value > expected
    return False
