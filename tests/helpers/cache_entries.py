"""Lookup cache keys and entries for the tests that use a cache on its own."""

from __future__ import annotations

from datetime import UTC, datetime

from app.workspace.lookup_cache import LookupEntry, LookupKey


def key(ws: str = "ws-1", value: str = "ana@example.com", connection: str = "c1") -> LookupKey:
    return LookupKey(ws, connection, "email", value)


def entry(contact_id: str | None = "003A", title: str = "CTO") -> LookupEntry:
    """A match of that Contact, or (None) a cached "no match"."""
    record = {"Id": contact_id, "Title": title} if contact_id else None
    return LookupEntry("email" if record else None, record, 0, datetime.now(UTC))
