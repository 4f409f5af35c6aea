"""Pydantic I/O for the contact lookup (docs/api.md, "Contact lookup")."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.errors import ValidationFailed
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
