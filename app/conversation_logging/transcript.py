"""The Task written for a closed conversation (docs/conversation-logging.md): its subject and
its description, the closing summary and then one line per message, oldest first, cut to
Salesforce's 32,000 characters with a visible marker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from app.respondio.conversations import Message

DESCRIPTION_LIMIT = 32_000
SUBJECT_LIMIT = 255


def truncation_marker(hidden: int) -> str:
    return f"[transcript truncated: {hidden} more characters]"


def subject(channel: str | None, category: str | None) -> str:
    """`<Channel> conversation: <closing category>`, or as much of it as is known."""
    channel = (channel or "").strip()
    category = (category or "").strip()
    if channel and category:
        text = f"{channel} conversation: {category}"
    elif channel:
        text = f"{channel} conversation"
    elif category:
        text = f"Conversation: {category}"
    else:
        text = "Conversation"
    return text[:SUBJECT_LIMIT]


def contact_name(contact: dict[str, Any]) -> str:
    name = " ".join(str(contact.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
    return name or str(contact.get("email") or contact.get("phone") or "Contact")


def who(message: Message, contact: str, users: dict[str, str]) -> str:
    if message.traffic == "incoming":
        return contact
    if message.source == "user" and message.user_id is not None:
        return users.get(message.user_id, f"user {message.user_id}")
    return message.source or "respond.io"


def line(message: Message, contact: str, users: dict[str, str]) -> str:
    stamp = f"[{message.at.astimezone(UTC):%Y-%m-%d %H:%M}] " if message.at else ""
    return f"{stamp}{who(message, contact, users)}: {message.text}"


def description(summary: str | None, lines: Iterable[str], limit: int = DESCRIPTION_LIMIT) -> str:
    """The summary, a blank line, the lines; over `limit`, the beginning kept and the end
    replaced by the marker naming how many characters were left out."""
    parts = [summary.strip()] if summary and summary.strip() else []
    body = "\n".join(lines)
    if body:
        parts.append(body)
    text = "\n\n".join(parts)
    if len(text) <= limit:
        return text
    # The marker's own length depends on the count it names: fit it exactly.
    keep = limit
    while True:
        marker = "\n" + truncation_marker(len(text) - keep)
        if keep + len(marker) <= limit:
            return text[:keep] + marker
        keep = limit - len(marker)


def activity_date(closed: datetime | None, fallback: datetime) -> str:
    return (closed or fallback).astimezone(UTC).date().isoformat()
