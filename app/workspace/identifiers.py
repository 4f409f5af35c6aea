"""The forms of an email or phone that lookup answers are cached under (docs/api.md,
"Contact lookup"): the lookup builds its cache keys with them, and a new record made through
the service drops the cached answers of its identifiers with them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import phonenumbers


def normalize_email(email: str) -> str:
    """The cache-key form: SOQL `=` on text is case-insensitive, so case never matters."""
    return email.lower()


def parse_phone(raw: Any, default_region: str) -> phonenumbers.PhoneNumber | None:
    if not raw or not isinstance(raw, str):
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def phone_key(raw: Any, default_region: str) -> str | None:
    """E.164 (with `;ext=N` for an extension), or None when not a possible phone number.

    An extension is part of the identity: `+60 12-345 6789 ext. 5` is another line than
    `+60123456789`, and matches only the same number with the same extension."""
    number = parse_phone(raw, default_region)
    if number is None:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


def to_e164(raw: str | None, default_region: str) -> str | None:
    """The number in E.164 (extension included as `;ext=N`), or None."""
    return phone_key(raw, default_region)


def cache_identifiers(
    emails: Iterable[str], phones: Iterable[str], default_region: str
) -> frozenset[str]:
    """Every form a lookup may have cached these identifiers under: emails lowercased, phones
    as given (exact matching) and as `phone_key` (normalized matching)."""
    found = {normalize_email(e) for e in emails if e}
    for phone in phones:
        if not phone:
            continue
        found.add(phone)
        e164 = phone_key(phone, default_region)
        if e164:
            found.add(e164)
    return frozenset(found)
