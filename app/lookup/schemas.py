"""Pydantic I/O for the contact lookup (docs/api.md, "Contact lookup")."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.errors import ValidationFailed
from app.lookup.related import RelatedView
from app.workspace.contacts import ContactView

MAX_EMAIL_LENGTH = 320
MAX_PHONE_LENGTH = 64
# Control, format (zero-width, bidi overrides), surrogate and line/paragraph separators:
# never part of a real email or phone, and a classic way to smuggle text into logs or queries.
_REJECTED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _clean(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    bad = sorted(
        {f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) in _REJECTED_CATEGORIES}
    )
    if bad:
        raise ValueError(f"{name} contains characters that are not allowed: {', '.join(bad)}")
    value = value.strip()
    return value or None


EMAIL_DESCRIPTION = (
    "Matched first, against Contact.Email (case-insensitive, as in Salesforce). "
    "Give `email`, `phone` or both: neither is a 422."
)
# Documented only: blank identifiers are trimmed and refused by `checked_identifiers`.
NOT_BLANK = r"\S"
PHONE_DESCRIPTION = (
    "Matched against Phone and MobilePhone when the email finds nothing: exactly as stored, "
    "or as E.164 (extension included) with `phone_matching=normalized`."
)


def _query_parameter(name: str, max_length: int, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {
            "anyOf": [{"type": "string", "maxLength": max_length}, {"type": "null"}],
            "title": name.capitalize(),
            "description": description,
            "examples": [example],
            "pattern": NOT_BLANK,
        },
    }


# The lookup's query parameters as the OpenAPI document shows them. The route reads them
# itself (`identifiers_from_query`) instead of declaring them: FastAPI's validation of
# declared parameters was the largest share of a cached lookup's CPU.
LOOKUP_QUERY_PARAMETERS = [
    _query_parameter("email", MAX_EMAIL_LENGTH, EMAIL_DESCRIPTION, "ana.souza@example.com"),
    _query_parameter("phone", MAX_PHONE_LENGTH, PHONE_DESCRIPTION, "+60 12-345 6789"),
]


def identifiers_from_query(query: Mapping[str, str]) -> tuple[str | None, str | None]:
    """`email` and `phone` from the query string (the last of repeated ones), checked as the
    declared parameters were (length, 422 `validation_failed`), then `checked_identifiers`."""
    email, phone = query.get("email"), query.get("phone")
    problems = [
        {"field": f"query.{name}", "message": f"String should have at most {limit} characters"}
        for name, value, limit in (
            ("email", email, MAX_EMAIL_LENGTH),
            ("phone", phone, MAX_PHONE_LENGTH),
        )
        if value is not None and len(value) > limit
    ]
    if problems:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    return checked_identifiers(email, phone)


def checked_identifiers(email: str | None, phone: str | None) -> tuple[str | None, str | None]:
    """Both identifiers trimmed and checked; 422 naming each problem."""
    problems = []
    cleaned: dict[str, str | None] = {}
    for name, value in (("email", email), ("phone", phone)):
        try:
            cleaned[name] = _clean(value, name)
        except ValueError as exc:
            problems.append({"field": f"query.{name}", "message": str(exc)})
    if not problems and cleaned["email"] is None and cleaned["phone"] is None:
        problems.append({"field": "query", "message": "give an email or a phone (or both)"})
    if problems:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    return cleaned["email"], cleaned["phone"]


class LookupResponse(BaseModel):
    matched: bool
    matched_on: Literal["email", "phone"] | None = None
    matched_object: Literal["Contact", "Lead"] | None = Field(
        description="What matched: a Contact, an unconverted Lead (only with `leads.enabled`, "
        "when no Contact matches), or nothing."
    )
    contact: ContactView | None
    lead: ContactView | None = Field(
        default=None,
        description="The matched Lead, fields in `leads.visible_fields` order. Present only "
        "while `leads.enabled`.",
    )
    other_matches: int = Field(
        default=0,
        description="How many other records of the same object matched the same identifier "
        "(at most 99).",
    )
    hint: str | None = Field(default=None, description="When nothing matched: what to check.")
    cached: bool = Field(description="Whether this answer came from the lookup cache.")
    stale: bool = Field(
        False,
        description="True when Salesforce could not be asked (rate limit, outage) and an "
        "older cached answer is served instead.",
    )
    fetched_at: datetime = Field(description="When this answer was read from Salesforce.")
    related: RelatedView | None = Field(
        default=None,
        description="With a Contact matched and a `related` part enabled in the settings: "
        "its Account, open Opportunities and open Cases (only the enabled parts). Absent "
        "otherwise.",
    )
