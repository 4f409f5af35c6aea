"""The forms of an email or phone that lookup answers are cached under (docs/api.md,
"Contact lookup"): the lookup builds its cache keys with them, and a new record made through
the service drops the cached answers of its identifiers with them."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers


def normalize_email(email: str) -> str:
    """The cache-key form: SOQL `=` on text is case-insensitive, so case never matters."""
    return email.lower()


def to_e164(raw: str | None, default_region: str) -> str | None:
    """The number in E.164, or None when it cannot be read as a possible phone number."""
    if not raw or not isinstance(raw, str):
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def cache_identifiers(
    emails: Iterable[str], phones: Iterable[str], default_region: str
) -> frozenset[str]:
    """Every form a lookup may have cached these identifiers under: emails lowercased, phones
    as given (exact matching) and in E.164 (normalized matching)."""
    found = {normalize_email(e) for e in emails if e}
    for phone in phones:
        if not phone:
            continue
        found.add(phone)
        e164 = to_e164(phone, default_region)
        if e164:
            found.add(e164)
    return frozenset(found)
