"""The one quoting helper: escaping rules, and injection properties checked with the
emulator's SOQL/SOSL parsers (values can never change a query's shape)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.config import Settings
from app.lookup import matching
from app.salesforce.soql import (
    UnsafeSOQL,
    escape_sosl,
    format_soql,
    format_sosl_find,
    identifier,
    quote,
)
from app.workspace.contacts import selected_fields
from emulator.salesforce.soql import parse_soql, tokenize
from emulator.salesforce.sosl import parse_sosl
from tests.helpers.factories import connect_default_user

SELECTED = selected_fields(["Name", "Title", "LeadSource"])


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    # Hypothesis sends hundreds of distinct lookups from one workspace: lift the miss limit
    # (tests/lookup/test_api_budget.py covers it).
    return sf_settings.model_copy(
        update={"lookup_miss_rate_per_workspace": 1e6, "lookup_miss_burst_per_workspace": 10**6}
    )


@pytest.fixture
async def lookup_ready(app: Any, sf_emulator: Any) -> str:
    org = next(org for org in sf_emulator.orgs.values() if org.api_enabled)
    await connect_default_user(app, sf_emulator, org)
    return "ws-1"


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("ana@example.com", "'ana@example.com'"),
        ("o'brien@example.com", "'o\\'brien@example.com'"),
        ("back\\slash", "'back\\\\slash'"),
        ("\\'", "'\\\\\\''"),  # backslash escaped first, then the quote
        ('say "hi"', "'say \\\"hi\\\"'"),
        ("a\nb\rc\td\be\ff", "'a\\nb\\rc\\td\\be\\ff'"),
        ("100%_sure", "'100%_sure'"),  # wildcards only mean something in LIKE
        ("Zoë D'Arcy", "'Zoë D\\'Arcy'"),
    ],
)
def test_quote(raw: str, quoted: str) -> None:
    assert quote(raw) == quoted


def test_format_soql_quotes_values_and_checks_names() -> None:
    query = format_soql(
        "SELECT {:fields} FROM {:name} WHERE Email = {} AND IsDeleted = {} AND "
        "CreatedDate > {} AND Id IN {} LIMIT {}",
        ["Id", "Email"],
        "Contact",
        "x' OR Name != '",
        False,
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        ["003000000000001", "003000000000002"],
        10,
    )
    assert query == (
        "SELECT Id, Email FROM Contact WHERE Email = 'x\\' OR Name != \\'' AND IsDeleted = false "
        "AND CreatedDate > 2026-01-02T03:04:05Z "
        "AND Id IN ('003000000000001', '003000000000002') LIMIT 10"
    )
    parse_soql(query)


@pytest.mark.parametrize(
    "bad",
    ["Email; DELETE", "Email FROM Lead", "Id,Name", "", "1Name", "Name__c)", "Na me"],
)
def test_names_are_checked(bad: str) -> None:
    with pytest.raises(UnsafeSOQL):
        identifier(bad)
    with pytest.raises(UnsafeSOQL):
        format_soql("SELECT {:fields} FROM Contact", ["Id", bad])


def test_no_raw_escape_hatch() -> None:
    for template in ("SELECT Id FROM Contact WHERE Email = {!s}", "WHERE X = {:raw}"):
        with pytest.raises(UnsafeSOQL):
            format_soql(template, "x")
    with pytest.raises(UnsafeSOQL):
        format_soql("SELECT {:fields} FROM Contact", "Id, Name")
    with pytest.raises(UnsafeSOQL):
        format_soql("WHERE Email = {}", object())


def test_sosl_escaping() -> None:
    assert escape_sosl("a-b+c") == "a\\-b\\+c"
    assert escape_sosl("{x}") == "\\{x\\}"
    assert escape_sosl("\\") == "\\\\"
    query = format_sosl_find("4155550100", "PHONE", {"Contact": ["Id", "Phone"]}, limit=5)
    assert query == "FIND {4155550100} IN PHONE FIELDS RETURNING Contact(Id, Phone LIMIT 5)"
    parse_sosl(query)


# -- properties -------------------------------------------------------------------------

HOSTILE = st.sampled_from(
    [
        "'",
        "\\",
        "\\'",
        "''",
        "%",
        "_",
        "\\%",
        "\\_",
        "\n",
        "\r\n",
        "\t",
        '"',
        "OR",
        " OR Email != null",
        "') OR (Name LIKE '%",
        "SELECT",
        "FROM Lead",
        "LIMIT 1",
        "--",
        "/*",
        "{",
        "}",
        "ë",
        "漢字",
        "\u202e",
        "😀",
        "\x00",
    ]
)
VALUES = st.lists(st.one_of(HOSTILE, st.text(max_size=8)), max_size=8).map("".join)


def shape(query: str) -> list[tuple[str, str]]:
    """The query's tokens with every string literal blanked out."""
    return [(t.kind, "<string>" if t.kind == "string" else t.text) for t in tokenize(query)]


def literals(query: str) -> list[str]:
    return [t.value for t in tokenize(query) if t.kind == "string"]


@hypothesis_settings(max_examples=300, deadline=None)
@given(email=VALUES, phone=VALUES)
def test_values_never_change_the_soql_shape(email: str, phone: str) -> None:
    def query_of(email: str, phone: str) -> str:
        given = matching.phone_query(phone, normalized=False, default_region="US")
        assert given is not None
        since = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
        return matching.email_query("Contact", SELECTED, email, (since, given))

    reference = query_of("e", "p")
    query = query_of(email, phone)

    assert shape(query) == shape(reference)
    assert literals(query) == [email, phone, phone]
    parse_soql(query)  # Salesforce's grammar accepts it: no MALFORMED_QUERY either


@hypothesis_settings(max_examples=200, deadline=None)
@given(term=VALUES.filter(lambda t: not any(ord(c) < 32 for c in t)))
def test_values_never_change_the_sosl_shape(term: str) -> None:
    query = format_sosl_find(term, "PHONE", {"Contact": list(SELECTED)}, limit=100)
    head, _, tail = query.partition(" IN PHONE FIELDS RETURNING ")
    assert tail == "Contact(" + ", ".join(SELECTED) + " LIMIT 100)"
    inner = head[len("FIND {") : -1]
    # Every reserved character is escaped, so the term cannot close its braces early.
    i = 0
    while i < len(inner):
        if inner[i] == "\\":
            i += 2
            continue
        assert inner[i] not in "{}'\"\\"
        i += 1
    # The emulator (like Salesforce) refuses terms shorter than two characters.
    if len(term.strip().strip('"').replace("*", "").replace("?", "").strip()) >= 2:
        assert parse_sosl(query).term == term.strip()


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(email=st.one_of(st.none(), VALUES), phone=st.one_of(st.none(), VALUES))
async def test_hostile_lookups_never_500(client, auth, lookup_ready, email, phone) -> None:
    params = {k: v for k, v in (("email", email), ("phone", phone)) if v is not None}
    response = await client.get(
        "/v1/workspaces/ws-1/salesforce/contacts/lookup", params=params, headers=auth("ws-1")
    )
    assert response.status_code in (200, 422), response.text
    body = response.json()
    if response.status_code == 200:
        assert body["matched"] is False or body["contact"]["id"].startswith("003")
    else:
        assert body["code"] == "validation_error"
