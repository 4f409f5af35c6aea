"""Pure lookup logic: normalizing identifiers, building the queries, choosing the winner.

Every query is selective in an org with millions of records (docs/behaviour.md, "Lookup"): email
through the Email index; phones, which Salesforce does not index, through SOSL (the search
index) plus a recency query whose selective part is `SystemModstamp >= <now - lag>` (an
indexed field), for records the search index has not caught up with yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers

from app.salesforce.soql import format_soql, format_sosl_find
from app.salesforce.values import parse_datetime
from app.workspace.identifiers import normalize_email as normalize_email
from app.workspace.identifiers import parse_phone as _parse
from app.workspace.identifiers import phone_key as phone_key
from app.workspace.identifiers import to_e164 as to_e164

PHONE_FIELDS = ("Phone", "MobilePhone")
EMAIL_FIELD = "Email"
# Enough to count `other_matches` for any real duplicate set; the count saturates here.
MATCH_LIMIT = 100
# The recency query's residual filter in normalized mode: the stored string ends with these
# many digits of the number (or of its extension).
TAIL_DIGITS = 4
UNCONVERTED = "IsConverted = false"


@dataclass(frozen=True, slots=True)
class PhoneQuery:
    """How one given phone is matched.

    `key` is what a stored phone must equal: the string itself (`exact`), or E.164 with
    `;ext=N` when the number has an extension (`normalized`). `search_term` is the digits SOSL
    looks for (None: no search, for a phone with fewer than two digits). A stored phone field
    is compared with `operator` to `operand` behind the selective recency filter."""

    raw: str
    normalized: bool
    key: str
    search_term: str | None
    operator: str  # "=" (exact) or "LIKE" (normalized: the tail digits)
    operand: str

    def condition(self, fields: Sequence[str] = PHONE_FIELDS) -> str:
        """The SOQL filter on these phone fields (those the connected user can see)."""
        parts = [format_soql(f"{{:name}} {self.operator} {{}}", f, self.operand) for f in fields]
        return "(" + " OR ".join(parts) + ")"


def phone_fields(selected: Sequence[str]) -> tuple[str, ...]:
    """The phone fields a lookup may match on: those selected (the describe shows them)."""
    return tuple(f for f in PHONE_FIELDS if f in selected)


def phone_query(phone: str, *, normalized: bool, default_region: str) -> PhoneQuery | None:
    """None when the phone cannot be matched at all (normalized and unreadable)."""
    if not normalized:
        digits = "".join(ch for ch in phone if ch.isdigit())
        # Salesforce refuses search terms shorter than two characters.
        return PhoneQuery(phone, False, phone, digits if len(digits) >= 2 else None, "=", phone)
    number = _parse(phone, default_region)
    key = phone_key(phone, default_region)
    if number is None or key is None:
        return None
    national = phonenumbers.national_significant_number(number)
    extension = "".join(ch for ch in (number.extension or "") if ch.isdigit())
    tail = "%" + (extension or national)[-TAIL_DIGITS:]
    # SOSL compares digits, ignoring punctuation: the national number (what every stored form
    # of it ends with), followed by the extension's digits when there is one.
    return PhoneQuery(phone, True, key, national + extension, "LIKE", tail)


def _where(sobject: str, condition: str) -> str:
    return f"{UNCONVERTED} AND ({condition})" if sobject == "Lead" else condition


def email_query(
    sobject: str,
    selected: Sequence[str],
    email: str,
    recent: tuple[datetime, PhoneQuery] | None = None,
    phones: Sequence[str] = PHONE_FIELDS,
) -> str:
    """Records with this email; with `recent`, also those changed since then whose phone
    (one of `phones`) matches. Both branches of the OR are selective on an indexed field
    (Email, SystemModstamp); the phone comparison only filters what the index found."""
    condition = format_soql("Email = {}", email)
    if recent is not None:
        since, phone = recent
        condition += " OR " + _recent_condition(since, phone, phones)
    return _select(sobject, selected, _where(sobject, condition))


def recent_phone_query(
    sobject: str,
    selected: Sequence[str],
    since: datetime,
    phone: PhoneQuery,
    phones: Sequence[str] = PHONE_FIELDS,
) -> str:
    """Records changed since `since` whose phone matches (the search index may not have them)."""
    return _select(sobject, selected, _where(sobject, _recent_condition(since, phone, phones)))


def _recent_condition(since: datetime, phone: PhoneQuery, phones: Sequence[str]) -> str:
    whole_second = since.astimezone(UTC).replace(microsecond=0)
    return format_soql("(SystemModstamp >= {} AND ", whole_second) + phone.condition(phones) + ")"


def _select(sobject: str, selected: Sequence[str], where: str) -> str:
    return (
        format_soql("SELECT {:fields} FROM {:name} WHERE ", selected, sobject)
        + where
        + format_soql(" ORDER BY LastModifiedDate DESC LIMIT {}", MATCH_LIMIT)
    )


def phone_search(phone: PhoneQuery, returning: Mapping[str, Sequence[str]]) -> str:
    """One SOSL over phone fields for every object in `returning` (Leads: unconverted only;
    exact mode: only records whose phone equals the string, in the phone fields selected).
    Salesforce ignores punctuation in the search; every candidate is checked again here."""
    assert phone.search_term is not None
    where = {
        sobject: _where(sobject, phone.condition(phone_fields(returning[sobject])))
        if not phone.normalized
        else UNCONVERTED
        for sobject in returning
        if sobject == "Lead" or not phone.normalized
    }
    return format_sosl_find(
        phone.search_term,
        "PHONE",
        returning,
        where=where,
        order_by="LastModifiedDate",
        limit=MATCH_LIMIT,
    )


def newest_first(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, each record once (a record may come from the search and a query)."""
    epoch = datetime.min.replace(tzinfo=UTC)
    unique = {str(r.get("Id")): r for r in records}
    return sorted(
        unique.values(),
        key=lambda r: parse_datetime(r.get("LastModifiedDate")) or epoch,
        reverse=True,
    )


def _same_text(stored: Any, given: str) -> bool:
    return isinstance(stored, str) and stored.lower() == given.lower()


def email_matches(records: Iterable[dict[str, Any]], email: str) -> list[dict[str, Any]]:
    return newest_first(r for r in records if _same_text(r.get("Email"), email))


def phone_matches(
    records: Iterable[dict[str, Any]], phone: PhoneQuery, default_region: str
) -> list[dict[str, Any]]:
    """Records whose Phone or MobilePhone is the given phone (exact string, or same key)."""
    if phone.normalized:
        hit = lambda value: phone_key(value, default_region) == phone.key  # noqa: E731
    else:
        hit = lambda value: _same_text(value, phone.key)  # noqa: E731
    return newest_first(r for r in records if any(hit(r.get(f)) for f in PHONE_FIELDS))


def of_type(records: Iterable[dict[str, Any]], sobject: str) -> list[dict[str, Any]]:
    return [r for r in records if (r.get("attributes") or {}).get("type") == sobject]


def trimmed(record: dict[str, Any], selected: Sequence[str]) -> dict[str, Any]:
    """Only the selected fields: nothing else of the record is kept in the cache."""
    return {name: record.get(name) for name in selected}
