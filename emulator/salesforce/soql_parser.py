"""Recursive-descent parser for the SOQL subset (see soql.py); also used by SOSL's
RETURNING clauses. Conditions are compiled to predicates at parse time, with
Salesforce's type checks on literals."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from .enterprise import indexed, is_selective, mark
from .schema import Field, SObjectType, sobject
from .soql import (
    DATE_LITERALS,
    Predicate,
    Query,
    SOQLError,
    Tok,
    TypeLookup,
    _compare,
    _date_range,
    _norm,
    field_value,
    kind_of,
    located,
    resolve_field,
    resolve_type,
    valid_id,
)
from .soql_relations import ChildQuery, resolve_child, resolve_parent

_TYPE_NAMES = {"number": "double", "bool": "boolean", "date": "date", "datetime": "dateTime"}
_OPS = {"=", "!=", "<", ">", "<=", ">="}


class Parser:
    def __init__(
        self,
        query: str,
        toks: list[Tok],
        error_code: str = "MALFORMED_QUERY",
        *,
        lookup: TypeLookup = sobject,
        today: date | None = None,
    ) -> None:
        self.q = query
        self.toks = toks
        self.i = 0
        self.error_code = error_code
        self.lookup = lookup
        self.today = today

    # -- token helpers -----------------------------------------------------------
    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def is_kw(self, *words: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "ident" and tok.text.upper() in words

    def accept_kw(self, *words: str) -> bool:
        if self.is_kw(*words):
            self.i += 1
            return True
        return False

    def expect_kw(self, word: str) -> Tok:
        if not self.is_kw(word):
            self.unexpected()
        return self.next()

    def accept_sym(self, sym: str) -> bool:
        tok = self.peek()
        if tok.kind == "sym" and tok.value == sym:
            self.i += 1
            return True
        return False

    def expect_sym(self, sym: str) -> None:
        if not self.accept_sym(sym):
            self.unexpected()

    def unexpected(self, tok: Tok | None = None) -> Any:
        tok = tok or self.peek()
        raise SOQLError(
            self.error_code, located(self.q, tok.pos, f"unexpected token: '{tok.text}'")
        )

    def fail(self, code: str, tok: Tok, text: str) -> Any:
        raise SOQLError(code, located(self.q, tok.pos, text))

    # -- SELECT ------------------------------------------------------------------
    def parse_select(self) -> Query:
        self.expect_kw("SELECT")
        count_only = False
        names: list[Tok] = []
        if self.is_kw("COUNT") and self.peek(1).value == "(" and self.peek(2).value == ")":
            self.i += 3
            count_only = True
        else:
            names = self.field_list()
        self.expect_kw("FROM")
        t = resolve_type(self.q, self.next(), self.lookup)
        subqueries = [n for n in names if isinstance(n, int)]
        plain = [n for n in names if isinstance(n, Tok) and "." not in n.text]
        query = Query(type=t, fields=self.resolve_fields(t, plain), count_only=count_only)
        query.parents = [
            resolve_parent(self.q, t, n.text, n.pos, self.lookup)
            for n in names
            if isinstance(n, Tok) and "." in n.text
        ]
        end = self.i
        for start in subqueries:
            query.children.append(self.child_query(t, start))
        self.i = end
        self.tail(query)
        if self.peek().kind != "eof":
            self.unexpected()
        return query

    def field_list(self, *, nested: bool = False) -> list[Tok | int]:
        """Field tokens; a parent-to-child subquery is kept as the index of its `(`, parsed
        once the object is known (soql_relations)."""
        names: list[Tok | int] = []
        while True:
            if not nested and self.peek().value == "(" and self.is_kw("SELECT", k=1):
                names.append(self.i)
                self.skip_parenthesized()
            else:
                tok = self.next()
                if tok.kind != "ident" or tok.text.upper() in ("FROM", "SELECT"):
                    self.unexpected(tok)
                names.append(tok)
            if not self.accept_sym(","):
                return names

    def skip_parenthesized(self) -> None:
        depth = 0
        while True:
            tok = self.next()
            if tok.kind == "eof":
                self.unexpected(tok)
            if tok.kind == "sym" and tok.value == "(":
                depth += 1
            elif tok.kind == "sym" and tok.value == ")":
                depth -= 1
                if depth == 0:
                    return

    def child_query(self, parent: SObjectType, start: int) -> ChildQuery:
        self.i = start + 1
        self.expect_kw("SELECT")
        names = self.field_list(nested=True)
        self.expect_kw("FROM")
        rel_tok = self.next()
        if rel_tok.kind != "ident":
            self.unexpected(rel_tok)
        rel, reference, child = resolve_child(
            self.q, parent, rel_tok.text, rel_tok.pos, self.lookup
        )
        plain = [n for n in names if isinstance(n, Tok)]
        query = Query(type=child, fields=self.resolve_fields(child, plain))
        self.tail(query)
        self.expect_sym(")")
        return ChildQuery(rel, reference, query)

    def resolve_fields(self, t: SObjectType, names: list[Tok]) -> list[Field]:
        fields: list[Field] = []
        for tok in names:
            f = resolve_field(self.q, t, tok)
            if f in fields:
                self.fail("MALFORMED_QUERY", tok, f"duplicate field selected: {f.name}")
            fields.append(f)
        return fields

    def tail(self, query: Query, in_sosl: bool = False) -> None:
        """WHERE / WITH / ORDER BY / LIMIT / OFFSET, in that order."""
        t = query.type
        if self.accept_kw("WHERE"):
            query.where = self.expr(t)
        if not in_sosl and self.accept_kw("WITH"):
            if not self.accept_kw("SECURITY_ENFORCED", "USER_MODE", "SYSTEM_MODE"):
                self.unexpected()
        if self.is_kw("ORDER") and self.is_kw("BY", k=1):
            self.i += 2
            while True:
                tok = self.next()
                f = resolve_field(self.q, t, tok)
                if not f.type or f.type == "textarea":
                    self.fail(
                        "INVALID_FIELD", tok, f"field '{f.name}' can not be sorted in a query call"
                    )
                asc = not self.accept_kw("DESC")
                if asc:
                    self.accept_kw("ASC")
                nulls_first = asc
                if self.accept_kw("NULLS"):
                    if self.accept_kw("FIRST"):
                        nulls_first = True
                    else:
                        self.expect_kw("LAST")
                        nulls_first = False
                query.order.append((f, asc, nulls_first))
                if not self.accept_sym(","):
                    break
        if self.accept_kw("LIMIT"):
            query.limit = self.integer()
        if self.accept_kw("OFFSET"):
            query.offset = self.integer()

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "number" or not isinstance(tok.value, int) or tok.value < 0:
            self.unexpected(tok)
        return tok.value

    # -- conditions --------------------------------------------------------------
    def expr(self, t: SObjectType) -> Predicate:
        parts = [self.unary(t)]
        joiner: str | None = None
        while self.is_kw("AND", "OR"):
            word = self.peek().text.upper()
            if joiner is not None and word != joiner:
                self.unexpected()
            joiner = word
            self.i += 1
            parts.append(self.unary(t))
        if len(parts) == 1:
            return parts[0]
        if joiner == "AND":  # an index serves an AND when it serves one of its parts
            return mark(lambda r: all(p(r) for p in parts), any(map(is_selective, parts)))
        # An OR across indexes: over the threshold on a large table (enterprise.py).
        return mark(lambda r: any(p(r) for p in parts), False)

    def unary(self, t: SObjectType) -> Predicate:
        if self.accept_kw("NOT"):
            inner = self.unary(t)
            return mark(lambda r: not inner(r), False)
        if self.accept_sym("("):
            inner = self.expr(t)
            self.expect_sym(")")
            return inner
        return self.comparison(t)

    def comparison(self, t: SObjectType) -> Predicate:
        ftok = self.next()
        if ftok.kind != "ident":
            self.unexpected(ftok)
        f = resolve_field(self.q, t, ftok)
        if f.type == "textarea":
            self.fail(
                "INVALID_FIELD", ftok, f"field '{f.name}' can not be filtered in a query call"
            )
        negate = self.accept_kw("NOT")
        if self.accept_kw("IN"):
            self.expect_sym("(")
            values = [self.literal(f, "=")]
            while self.accept_sym(","):
                values.append(self.literal(f, "="))
            self.expect_sym(")")
            preds = [self.predicate(f, "=", v) for v in values]
            if negate:
                return mark(lambda r: not any(p(r) for p in preds), False)
            return mark(lambda r: any(p(r) for p in preds), indexed(t, f.name, "IN"))
        if negate:
            self.unexpected()
        if self.accept_kw("LIKE"):
            tok = self.next()
            if tok.kind != "string":
                self.unexpected(tok)
            if kind_of(f) not in ("text", "id"):
                self.fail(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    tok,
                    f"invalid operator on filter criterion for field '{f.name}'",
                )
            rx = re.compile(f"^{tok.like}$", re.IGNORECASE | re.DOTALL)
            name = f.name
            return mark(
                lambda r: r.get(name) is not None and bool(rx.match(str(r.get(name)))), False
            )
        op_tok = self.next()
        if op_tok.kind != "sym" or op_tok.value not in _OPS:
            self.unexpected(op_tok)
        value = self.literal(f, op_tok.value)
        return mark(self.predicate(f, op_tok.value, value), indexed(t, f.name, op_tok.value))

    def literal(self, f: Field, op: str) -> Any:
        """Parse a literal and check it against the field type; returns a comparable value,
        or ("range", start, end) for relative date literals."""
        tok = self.next()
        kind = kind_of(f)
        if tok.kind == "string" and tok.like_escape:
            self.fail(
                "MALFORMED_QUERY",
                tok,
                f"Invalid string literal {tok.text}. Illegal character sequence in string "
                "literal: \\_ and \\% are only valid in LIKE expressions.",
            )
        if tok.kind == "ident" and tok.text.lower() == "null":
            return None
        if tok.kind == "ident" and tok.text.lower() in ("true", "false"):
            if kind != "bool":
                self.type_error(f, tok)
            return tok.text.lower() == "true"
        if tok.kind == "ident" and tok.text.upper() in DATE_LITERALS:
            n = None
            if tok.text.upper().endswith("_N_DAYS"):
                self.expect_sym(":")
                n = self.integer()
            if kind not in ("date", "datetime"):
                self.type_error(f, tok)
            start, end = _date_range(tok.text.upper(), n, self.today)
            if kind == "datetime":
                return (
                    "range",
                    datetime.combine(start, time(), UTC),
                    datetime.combine(end, time(), UTC),
                )
            return ("range", start, end)
        if tok.kind == "string":
            if kind == "text":
                return tok.value
            if kind == "id":
                if tok.value and not valid_id(tok.value):
                    self.fail(
                        "INVALID_QUERY_FILTER_OPERATOR", tok, f"invalid ID field: {tok.value}"
                    )
                return tok.value or None
            self.type_error(f, tok)
        if tok.kind == "number" and kind == "number":
            return float(tok.value)
        if tok.kind == "date" and kind == "date":
            return tok.value
        if tok.kind == "datetime" and kind == "datetime":
            return tok.value
        if tok.kind in ("number", "date", "datetime"):
            self.type_error(f, tok)
        return self.unexpected(tok)

    def type_error(self, f: Field, tok: Tok) -> Any:
        kind = kind_of(f)
        if kind in ("text", "id"):
            text = (
                f"value of filter criterion for field '{f.name}' must be of type "
                f"{'id' if kind == 'id' else 'string'} and should be enclosed in quotes"
            )
        else:
            text = (
                f"value of filter criterion for field '{f.name}' must be of type "
                f"{_TYPE_NAMES[kind]} and should not be enclosed in quotes"
            )
        return self.fail("INVALID_QUERY_FILTER_OPERATOR", tok, text)

    @staticmethod
    def predicate(f: Field, op: str, value: Any) -> Predicate:
        name, kind = f.name, kind_of(f)
        if isinstance(value, tuple) and value and value[0] == "range":
            _, start, end = value

            def in_range(r: dict[str, Any]) -> bool:
                v = field_value(f, r.get(name))
                if v is None:
                    return op == "!="
                if op == "=":
                    return start <= v < end
                if op == "!=":
                    return not start <= v < end
                if op == "<":
                    return v < start
                if op == "<=":
                    return v < end
                if op == ">":
                    return v >= end
                return v >= start

            return in_range
        expected = _norm(kind, value)
        return lambda r: _compare(op, _norm(kind, field_value(f, r.get(name))), expected)
