"""Pure lookup logic: normalizing identifiers, building the queries, choosing the winner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import phonenumbers

from app.salesforce.soql import format_soql, format_sosl_find
from app.salesforce.values import parse_datetime
from app.workspace.identifiers import normalize_email as normalize_email
from app.workspace.identifiers import to_e164 as to_e164

PHONE_FIELDS = ("Phone", "MobilePhone")
# Enough to count `other_matches` for any real duplicate set; the count saturates here.
MATCH_LIMIT = 100


def exact_query(selected: Sequence[str], email: str | None, phone: str | None) -> str:
    """One SOQL for email and/or phone; the caller picks email matches first."""
    if email is not None and phone is not None:
        return format_soql(
            "SELECT {:fields} FROM Contact WHERE Email = {} OR Phone = {} OR MobilePhone = {} "
            "ORDER BY LastModifiedDate DESC LIMIT {}",
            selected,
            email,
            phone,
            phone,
            MATCH_LIMIT,
        )
    if email is not None:
        return format_soql(
            "SELECT {:fields} FROM Contact WHERE Email = {} ORDER BY LastModifiedDate DESC "
            "LIMIT {}",
            selected,
            email,
            MATCH_LIMIT,
        )
    if phone is not None:
        return format_soql(
            "SELECT {:fields} FROM Contact WHERE Phone = {} OR MobilePhone = {} "
            "ORDER BY LastModifiedDate DESC LIMIT {}",
            selected,
            phone,
            phone,
            MATCH_LIMIT,
        )
    raise ValueError("an email or a phone is needed")


def phone_search(selected: Sequence[str], digits: str) -> str:
    """SOSL over phone fields; Salesforce ignores punctuation there, we re-check in Python."""
    return format_sosl_find(
        digits,
        "PHONE",
        {"Contact": selected},
        order_by="LastModifiedDate",
        limit=MATCH_LIMIT,
    )


def search_digits(e164: str) -> str:
    """The national significant number: what every stored form of the number ends with."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.national_significant_number(number)


def newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(
        records,
        key=lambda r: parse_datetime(r.get("LastModifiedDate")) or epoch,
        reverse=True,
    )


def _same_text(stored: Any, given: str) -> bool:
    return isinstance(stored, str) and stored.lower() == given.lower()


def split_exact(
    records: list[dict[str, Any]], email: str | None, phone: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(email matches, phone matches) of an `exact_query` answer, newest first.

    Salesforce already filtered: a record that is not a phone match came back for its
    email, so text comparisons that differ subtly from Salesforce's cannot drop a match."""
    by_email: list[dict[str, Any]] = []
    by_phone: list[dict[str, Any]] = []
    for record in newest_first(records):
        phone_hit = phone is not None and any(
            _same_text(record.get(f), phone) for f in PHONE_FIELDS
        )
        email_hit = email is not None and (_same_text(record.get("Email"), email) or not phone_hit)
        if email_hit:
            by_email.append(record)
        elif phone_hit:
            by_phone.append(record)
    return by_email, by_phone


def phone_equal_e164(
    records: list[dict[str, Any]], e164: str, default_region: str
) -> list[dict[str, Any]]:
    return [
        record
        for record in newest_first(records)
        if any(to_e164(record.get(f), default_region) == e164 for f in PHONE_FIELDS)
    ]


def trimmed(record: dict[str, Any], selected: Sequence[str]) -> dict[str, Any]:
    """Only the selected fields: nothing else of the record is kept in the cache."""
    return {name: record.get(name) for name in selected}
