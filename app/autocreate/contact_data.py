"""From a stored Salesforce Contact to respond.io's identifier and contact body."""

from __future__ import annotations

import re
from typing import Any, Protocol

import phonenumbers


class ContactFields(Protocol):
    """A stored contact (an ORM row or a result row): the fields read here."""

    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    mobile_phone: str | None
    language: str | None


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Salesforce language picklists usually hold names; respond.io wants ISO 639-1 codes.
_LANGUAGE_CODES = {
    "english": "en",
    "malay": "ms",
    "bahasa melayu": "ms",
    "indonesian": "id",
    "bahasa indonesia": "id",
    "mandarin": "zh",
    "chinese": "zh",
    "cantonese": "zh",
    "tamil": "ta",
    "hindi": "hi",
    "spanish": "es",
    "portuguese": "pt",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "japanese": "ja",
    "korean": "ko",
    "thai": "th",
    "vietnamese": "vi",
    "arabic": "ar",
    "russian": "ru",
    "turkish": "tr",
    "dutch": "nl",
    "filipino": "tl",
    "tagalog": "tl",
}


def e164(raw: str | None, default_region: str) -> str | None:
    """`raw` as +E.164 when phonenumbers can read it as a possible number, else None."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def usable_email(raw: str | None) -> str | None:
    if raw and _EMAIL.match(raw.strip()):
        return raw.strip()
    return None


def identifier_of(row: ContactFields, default_region: str) -> str | None:
    """`email:...` when the Contact has an email, else `phone:+...` (mobile first), else None."""
    email = usable_email(row.email)
    if email:
        return f"email:{email}"
    for raw in (row.mobile_phone, row.phone):
        phone = e164(raw, default_region)
        if phone:
            return f"phone:{phone}"
    return None


def language_code(raw: str | None) -> str | None:
    if not raw:
        return None
    value = raw.strip()
    if re.fullmatch(r"[A-Za-z]{2}([-_][A-Za-z]{2})?", value):
        return value[:2].lower()
    return _LANGUAGE_CODES.get(value.lower())


def respondio_body(row: ContactFields, identifier: str, default_region: str) -> dict[str, Any]:
    kind, _, value = identifier.partition(":")
    phone = value if kind == "phone" else None
    for raw in (row.mobile_phone, row.phone):
        phone = phone or e164(raw, default_region)
    first = row.first_name or row.last_name or value
    body: dict[str, Any] = {
        "firstName": first,
        "lastName": row.last_name if row.first_name else None,
        "email": usable_email(row.email),
        "phone": phone,
        "language": language_code(row.language),
    }
    return {key: val for key, val in body.items() if val}
