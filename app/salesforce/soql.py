"""The one way values get into SOQL and SOSL text.

Every value goes through `quote()` (SOQL string literals) or `escape_sosl()` (SOSL search
terms); field names go through `identifier()`, and callers take them only from a describe.
`format_soql()` puts both together so a query is never assembled by hand:

    format_soql("SELECT {:fields} FROM Contact WHERE Email = {}", ["Id", "Email"], email)
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

# Backslash first: the later replacements add backslashes of their own.
_SOQL_ESCAPES = (
    ("\\", "\\\\"),
    ("'", "\\'"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)
_SOSL_RESERVED = frozenset("?&|!{}[]()^~*:\\\"'+-")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
MAX_SOQL_LENGTH = 100_000


class UnsafeSOQL(ValueError):
    """A value or name that cannot be put into a query safely."""


def quote(value: str) -> str:
    """`value` as a SOQL string literal: `O'Brien` → `'O\\'Brien'`.

    `%` and `_` are left alone: they are wildcards only in LIKE, and `\\%`/`\\_` would be a
    MALFORMED_QUERY outside LIKE. Use `=` comparisons for exact matching.
    """
    if not isinstance(value, str):
        raise UnsafeSOQL(f"quote() takes a string, not {type(value).__name__}")
    for raw, escaped in _SOQL_ESCAPES:
        value = value.replace(raw, escaped)
    return f"'{value}'"


def literal(value: Any) -> str:
    """Any supported Python value as a SOQL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return plain_number(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise UnsafeSOQL("datetimes in SOQL need a time zone")
        # Salesforce holds whole seconds and its parser takes no fraction: `...:05Z`.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = [literal(item) for item in value]
        if not items:
            raise UnsafeSOQL("an empty list cannot be used in SOQL IN (...)")
        return "(" + ", ".join(items) + ")"
    raise UnsafeSOQL(f"no SOQL literal for {type(value).__name__}")


def plain_number(value: float | Decimal) -> str:
    """A finite number in positional notation (`1e-07` → `0.0000001`): SOQL has no
    exponents. A float keeps its shortest round-trip digits."""
    number = Decimal(repr(value)) if isinstance(value, float) else value
    if not number.is_finite():
        raise UnsafeSOQL("only finite numbers can be used in SOQL")
    return format(number, "f")


def identifier(name: str) -> str:
    """A field or object name, checked to be a plain API name (`Title`, `Score__c`)."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise UnsafeSOQL(f"not a Salesforce API name: {name!r}")
    return name


def field_list(names: Iterable[str]) -> str:
    checked = [identifier(name) for name in names]
    if not checked:
        raise UnsafeSOQL("a field list cannot be empty")
    return ", ".join(checked)


class _SOQLFormatter(string.Formatter):
    """`{}` → a literal of the value; `{:fields}` → a checked field list; `{:name}` →
    one checked API name. Anything else is refused: there is no raw-text escape hatch."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "":
            return literal(value)
        if format_spec == "fields":
            if isinstance(value, str):
                raise UnsafeSOQL("{:fields} takes a list of names")
            return field_list(value)
        if format_spec == "name":
            return identifier(value)
        raise UnsafeSOQL(f"unknown SOQL format spec {format_spec!r}")

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:
            raise UnsafeSOQL("conversions (!r, !s) are not allowed in SOQL templates")
        return value


_FORMATTER = _SOQLFormatter()


def format_soql(template: str, *args: Any, **kwargs: Any) -> str:
    """Fill a SOQL template; every value escaped, every name checked."""
    query = _FORMATTER.vformat(template, args, kwargs)
    if len(query) > MAX_SOQL_LENGTH:
        raise UnsafeSOQL(f"SOQL statements cannot be longer than {MAX_SOQL_LENGTH:,} characters")
    return query


def escape_sosl(term: str) -> str:
    """A SOSL search term with every reserved character backslash-escaped."""
    if not isinstance(term, str):
        raise UnsafeSOQL(f"escape_sosl() takes a string, not {type(term).__name__}")
    if any(ord(ch) < 32 for ch in term):
        raise UnsafeSOQL("control characters cannot be searched for")
    return "".join("\\" + ch if ch in _SOSL_RESERVED else ch for ch in term)


def format_sosl_find(
    term: str,
    search_group: str,
    returning: Mapping[str, Sequence[str]],
    *,
    order_by: str | None = None,
    limit: int | None = None,
    where: Mapping[str, str] | None = None,
) -> str:
    """`FIND {term} IN <group> FIELDS RETURNING Obj(f1, f2 [WHERE c] [ORDER BY f DESC]
    [LIMIT n])`. `where` holds, per object, a condition already built with `format_soql`."""
    group = {"ALL": "ALL", "NAME": "NAME", "EMAIL": "EMAIL", "PHONE": "PHONE"}[search_group]
    parts = []
    for sobject, fields in returning.items():
        inner = field_list(fields)
        if where and where.get(sobject):
            inner += f" WHERE {where[sobject]}"
        if order_by:
            inner += f" ORDER BY {identifier(order_by)} DESC"
        if limit is not None:
            inner += f" LIMIT {int(limit)}"
        parts.append(f"{identifier(sobject)}({inner})")
    return f"FIND {{{escape_sosl(term)}}} IN {group} FIELDS RETURNING " + ", ".join(parts)
