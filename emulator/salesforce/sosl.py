"""A SOSL subset:

FIND {term} [IN ALL|NAME|EMAIL|PHONE FIELDS]
  [RETURNING Contact[(f1, f2 [WHERE ...] [ORDER BY ...] [LIMIT n])], Lead[...]] [LIMIT n]

Reserved characters in the term (? & | ! { } [ ] ( ) ^ ~ * : \\ " ' + -) must be
escaped with a backslash; unescaped ones answer MALFORMED_SEARCH (except * and ?,
which are wildcards, and a surrounding pair of double quotes for a phrase).

Phone matching rule (IN PHONE FIELDS, and phone fields under ALL): compare the
digits only (punctuation and spaces ignored). A field matches when its digits
equal the term's digits, or when both have at least 7 digits and one ends with
the other, so "+60 12-345 6789" matches "012-345 6789" and "(415) 555-0100"
matches "+1 415 555 0100".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .schema import CONTACT, LEAD, Field, SObjectType, sobject
from .soql import Query, SOQLError, TypeLookup, execute, project, resolve_type, tokenize
from .soql_parser import Parser
from .util import digits_of

RESERVED = set("?&|!{}[]()^~*:\\\"'+-")
MIN_SUFFIX_DIGITS = 7


@dataclass
class Search:
    term: str
    scope: str
    targets: list[Query]
    limit: int | None


def _fail(text: str) -> SOQLError:
    return SOQLError("MALFORMED_SEARCH", text)


def _read_term(q: str, start: int) -> tuple[str, int]:
    """Text between { and the matching unescaped }, with escapes resolved."""
    out: list[str] = []
    i = start + 1
    while i < len(q):
        c = q[i]
        if c == "\\" and i + 1 < len(q):
            out.append(q[i + 1])
            i += 2
            continue
        if c == "}":
            return "".join(out), i + 1
        if c in RESERVED and c not in '*?"':
            raise _fail(
                f"line 1:{i} unescaped reserved character '{c}' in search term; "
                "escape it with a backslash"
            )
        out.append(c)
        i += 1
    raise _fail(f"line 1:{len(q)} mismatched character '<EOF>' expecting '}}'")


def parse_sosl(q: str, *, lookup: TypeLookup = sobject, strict_datetimes: bool = False) -> Search:
    stripped = q.lstrip()
    offset = len(q) - len(stripped)
    if not stripped[:4].upper() == "FIND":
        raise _fail(f"unexpected token: '{stripped.split(' ', 1)[0] if stripped else '<EOF>'}'")
    i = offset + 4
    while i < len(q) and q[i].isspace():
        i += 1
    if i >= len(q) or q[i] != "{":
        raise _fail(f"line 1:{i} mismatched character; expecting '{{'")
    term, i = _read_term(q, i)
    core = term.strip().strip('"').replace("*", "").replace("?", "").strip()
    if len(core) < 2:
        raise _fail("No search term found. The search term must be longer than one character.")
    rest = q[i:]
    toks = tokenize(rest, strict_datetimes=strict_datetimes)
    p = Parser(rest, toks, error_code="MALFORMED_SEARCH", lookup=lookup)
    scope = "ALL"
    if p.accept_kw("IN"):
        tok = p.next()
        if tok.kind != "ident" or tok.text.upper() not in ("ALL", "NAME", "EMAIL", "PHONE"):
            p.unexpected(tok)
        scope = tok.text.upper()
        p.expect_kw("FIELDS")
    targets: list[Query] = []
    if p.accept_kw("RETURNING"):
        while True:
            t = resolve_type(rest, p.next(), lookup)
            query = Query(type=t, fields=[])
            if p.accept_sym("("):
                query.fields = p.resolve_fields(
                    t, [n for n in p.field_list(nested=True) if not isinstance(n, int)]
                )
                p.tail(query, in_sosl=True)
                p.expect_sym(")")
            targets.append(query)
            if not p.accept_sym(","):
                break
    else:
        targets = [Query(type=CONTACT, fields=[]), Query(type=LEAD, fields=[])]
    limit = p.integer() if p.accept_kw("LIMIT") else None
    if p.peek().kind != "eof":
        p.unexpected()
    return Search(term=term.strip(), scope=scope, targets=targets, limit=limit)


def phone_matches(term_digits: str, value: str | None) -> bool:
    d = digits_of(value)
    if not d or not term_digits:
        return False
    if d == term_digits:
        return True
    if min(len(d), len(term_digits)) < MIN_SUFFIX_DIGITS:
        return False
    return d.endswith(term_digits) or term_digits.endswith(d)


def _text_matches(term: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    words = term.strip('"').lower().split()
    hay = value.lower()
    return all(w.replace("*", "").replace("?", "") in hay for w in words)


def _fields_in_scope(t: SObjectType, scope: str) -> list[Field]:
    if scope == "PHONE":
        return [f for f in t.fields if f.type == "phone"]
    if scope == "EMAIL":
        return [f for f in t.fields if f.type == "email"]
    if scope == "NAME":
        return [f for f in t.fields if f.name in ("Name", "FirstName", "LastName")]
    return [f for f in t.fields if f.type in ("string", "email", "phone", "textarea", "picklist")]


def matches(search: Search, t: SObjectType, rec: dict[str, Any]) -> bool:
    term_digits = digits_of(search.term)
    for f in _fields_in_scope(t, search.scope):
        value = rec.get(f.name)
        if f.type == "phone":
            if phone_matches(term_digits, value):
                return True
        elif f.type == "email" and search.scope == "EMAIL":
            if isinstance(value, str) and value.lower() == search.term.strip('"').lower():
                return True
        elif _text_matches(search.term, value):
            return True
    return False


def run_search(
    search: Search, rows_by_type: dict[str, list[tuple[dict, dict]]], version: str
) -> list:
    """rows_by_type: (indexed copy, current record) pairs; the term is matched against the
    indexed copy (the search index), WHERE and the answer use the current record."""
    out: list[dict[str, Any]] = []
    for query in search.targets:
        pairs = rows_by_type.get(query.type.name, [])
        rows = [cur for indexed, cur in pairs if matches(search, query.type, indexed)]
        rows = execute(query, rows)
        fields = query.fields or [query.type.field("Id")]
        out.extend(project(r, query.type, [f for f in fields if f], version) for r in rows)
    if search.limit is not None:
        out = out[: search.limit]
    return out
