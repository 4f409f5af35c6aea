"""A SOQL subset: tokenizer, parser and evaluator.

SELECT f1, f2 | COUNT() FROM Contact|Lead|Organization|User
  [WHERE cond] [WITH SECURITY_ENFORCED|USER_MODE|SYSTEM_MODE]
  [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

cond: comparisons (= != <> < > <= >=, LIKE, [NOT] IN (...)) on string, number,
true/false, null, date (2026-11-24), datetime (2026-11-24T10:00:00Z, with millis
and +0000 / +00:00 offsets) and TODAY / YESTERDAY / TOMORROW / LAST_N_DAYS:n /
NEXT_N_DAYS:n; AND / OR / NOT and parentheses. Like Salesforce, AND and OR may
not be mixed without parentheses. Errors carry Salesforce's errorCodes and its
"ERROR at Row:r:Column:c" message layout.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .schema import TEXT_TYPES, Field, SObjectType, sobject
from .util import ID_RE, parse_date, parse_datetime

TypeLookup = Callable[[str], SObjectType | None]

MAX_QUERY_LENGTH = 100_000
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})"
)
_STRICT_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
DATE_LITERALS = {"TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS"}


class SOQLError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def located(query: str, pos: int, text: str) -> str:
    """Salesforce's layout: the offending line, a caret, 'ERROR at Row:r:Column:c', the text."""
    pos = max(0, min(pos, len(query)))
    row = query.count("\n", 0, pos) + 1
    line_start = query.rfind("\n", 0, pos) + 1
    line_end = query.find("\n", pos)
    line = query[line_start : line_end if line_end >= 0 else len(query)]
    col = pos - line_start + 1
    return f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{text}"


@dataclass
class Tok:
    kind: str  # ident string number date datetime sym eof
    value: Any
    pos: int
    text: str
    like: str | None = None  # regex for LIKE patterns (string tokens)
    like_escape: bool = False  # contains \_ or \%: only valid in LIKE


def _string(q: str, start: int) -> tuple[Tok, int]:
    i, n = start + 1, len(q)
    chars: list[str] = []
    like: list[str] = []
    like_escape = False
    while True:
        if i >= n:
            raise SOQLError(
                "MALFORMED_QUERY", located(q, start, "line 1:0 mismatched character '<EOF>'")
            )
        c = q[i]
        if c == "'":
            i += 1
            break
        if c == "\\":
            e = q[i + 1] if i + 1 < n else ""
            if e.lower() in _SIMPLE_ESCAPES:
                ch = _SIMPLE_ESCAPES[e.lower()]
            elif e in ("'", '"', "\\"):
                ch = e
            elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", q[i + 2 : i + 6]):
                ch = chr(int(q[i + 2 : i + 6], 16))
                i += 4
            elif e in ("_", "%"):
                like_escape = True
                chars.append(e)
                like.append(re.escape(e))
                i += 2
                continue
            else:
                end = q.find("'", i + 1)
                literal = q[start : end + 1 if end >= 0 else n]
                raise SOQLError(
                    "MALFORMED_QUERY",
                    located(
                        q,
                        i,
                        f"Invalid string literal {literal}. Illegal character sequence "
                        f"'\\{e}' in string literal.",
                    ),
                )
            chars.append(ch)
            like.append(re.escape(ch))
            i += 2
            continue
        like.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        chars.append(c)
        i += 1
    tok = Tok("string", "".join(chars), start, q[start:i], "".join(like), like_escape)
    return tok, i


def tokenize(q: str, *, strict_datetimes: bool = False) -> list[Tok]:
    """Tokens; strict_datetimes: datetime literals only as YYYY-MM-DDThh:mm:ssZ or with
    a ±hh:mm offset, like Salesforce (no fractional seconds, no ±hhmm)."""
    toks: list[Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        if c == "'":
            tok, i = _string(q, i)
            toks.append(tok)
            continue
        m = _DATETIME_RE.match(q, i)
        if m:
            if strict_datetimes and not _STRICT_DATETIME_RE.fullmatch(m.group()):
                bad = i + 19  # the character after the seconds
                raise SOQLError(
                    "MALFORMED_QUERY",
                    located(q, bad, f"line 1:{bad} no viable alternative at character '{q[bad]}'"),
                )
            toks.append(Tok("datetime", parse_datetime(m.group()), i, m.group()))
            i = m.end()
            continue
        m = _DATE_RE.match(q, i)
        if m and not (m.end() < n and (q[m.end()].isalnum())):
            toks.append(Tok("date", parse_date(m.group()), i, m.group()))
            i = m.end()
            continue
        m = _NUMBER_RE.match(q, i)
        if m and (c != "-" or not toks or toks[-1].kind == "sym"):
            text = m.group()
            toks.append(Tok("number", float(text) if "." in text else int(text), i, text))
            i = m.end()
            continue
        m = _IDENT_RE.match(q, i)
        if m:
            toks.append(Tok("ident", m.group(), i, m.group()))
            i = m.end()
            continue
        two = q[i : i + 2]
        if two in ("!=", "<>", "<=", ">="):
            toks.append(Tok("sym", "!=" if two == "<>" else two, i, two))
            i += 2
            continue
        if c in "(),=<>:":
            toks.append(Tok("sym", c, i, c))
            i += 1
            continue
        raise SOQLError("MALFORMED_QUERY", located(q, i, f"unexpected token: '{c}'"))
    toks.append(Tok("eof", None, n, "<EOF>"))
    return toks


# -- typed comparison ----------------------------------------------------------


def kind_of(f: Field) -> str:
    if f.type in TEXT_TYPES:
        return "text"
    if f.type in ("id", "reference"):
        return "id"
    if f.type in ("double", "int", "currency", "percent"):
        return "number"
    if f.type == "boolean":
        return "bool"
    return f.type  # date, datetime


def field_value(f: Field, value: Any) -> Any:
    if value is None or value == "":
        return None
    k = kind_of(f)
    if k == "date":
        return parse_date(value) if isinstance(value, str) else value
    if k == "datetime":
        return parse_datetime(value) if isinstance(value, str) else value
    if k == "number":
        return float(value)
    return value


def _date_range(name: str, n: int | None, today: date | None = None) -> tuple[date, date]:
    """[start, end) in days (UTC) for a relative date literal."""
    today = today or datetime.now(UTC).date()
    day = timedelta(days=1)
    if name == "TODAY":
        return today, today + day
    if name == "YESTERDAY":
        return today - day, today
    if name == "TOMORROW":
        return today + day, today + 2 * day
    if name == "LAST_N_DAYS":
        return today - (n or 0) * day, today + day
    return today + day, today + (1 + (n or 0)) * day  # NEXT_N_DAYS


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        if op == "=":
            return a is None and b is None
        if op == "!=":
            return not (a is None and b is None)
        return False
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _norm(kind: str, v: Any) -> Any:
    if v is None:
        return None
    if kind == "text":
        return str(v).lower()
    if kind == "id":
        return str(v)[:15]
    return v


Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Query:
    type: SObjectType
    fields: list[Field]
    count_only: bool = False
    where: Predicate | None = None
    order: list[tuple[Field, bool, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    # Relationship queries (soql_relations): `Account.Name` fields and child subqueries.
    parents: list[Any] = field(default_factory=list)
    children: list[Any] = field(default_factory=list)


def parse_soql(
    q: str,
    *,
    lookup: TypeLookup = sobject,
    strict_datetimes: bool = False,
    today: date | None = None,
) -> Query:
    if len(q) > MAX_QUERY_LENGTH:
        raise SOQLError(
            "MALFORMED_QUERY",
            f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH:,} characters",
        )
    from .soql_parser import Parser

    toks = tokenize(q, strict_datetimes=strict_datetimes)
    return Parser(q, toks, lookup=lookup, today=today).parse_select()


def sort_rows(rows: list[dict[str, Any]], order: list[tuple[Field, bool, bool]]) -> None:
    def cmp(r1: dict[str, Any], r2: dict[str, Any]) -> int:
        for f, asc, nulls_first in order:
            k = kind_of(f)
            a = _norm(k, field_value(f, r1.get(f.name)))
            b = _norm(k, field_value(f, r2.get(f.name)))
            if a is None and b is None:
                continue
            if a is None or b is None:
                return (-1 if a is None else 1) * (1 if nulls_first else -1)
            if a == b:
                continue
            result = -1 if a < b else 1
            return result if asc else -result
        return 0

    rows.sort(key=functools.cmp_to_key(cmp))


def execute(query: Query, rows: list[dict[str, Any]], *, include_deleted: bool = False) -> list:
    """Filter, order and window the rows (copies with calculated fields)."""
    out = [r for r in rows if include_deleted or not r.get("IsDeleted")]
    if query.where is not None:
        out = [r for r in out if query.where(r)]
    if query.order:
        sort_rows(out, query.order)
    if query.offset:
        out = out[query.offset :]
    if query.limit is not None:
        out = out[: query.limit]
    return out


def project(rec: dict[str, Any], t: SObjectType, fields: list[Field], version: str) -> dict:
    out: dict[str, Any] = {
        "attributes": {
            "type": t.name,
            "url": f"/services/data/v{version}/sobjects/{t.name}/{rec['Id']}",
        }
    }
    for f in fields:
        out[f.name] = rec.get(f.name)
    return out


def valid_id(value: str) -> bool:
    return bool(ID_RE.match(value))


def resolve_type(q: str, tok: Tok, lookup: TypeLookup = sobject) -> SObjectType:
    t = lookup(tok.text) if tok.kind == "ident" else None
    if t is None:
        raise SOQLError(
            "INVALID_TYPE",
            located(
                q,
                tok.pos,
                f"sObject type '{tok.text}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            ),
        )
    return t


def resolve_field(q: str, t: SObjectType, tok: Tok) -> Field:
    if "." in tok.text:
        rel = tok.text.split(".")[0]
        raise SOQLError(
            "INVALID_FIELD",
            located(
                q,
                tok.pos,
                f"Didn't understand relationship '{rel}' in field path. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            ),
        )
    f = t.field(tok.text)
    if f is None:
        raise SOQLError(
            "INVALID_FIELD",
            located(
                q,
                tok.pos,
                f"No such column '{tok.text}' on entity '{t.name}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            ),
        )
    return f
