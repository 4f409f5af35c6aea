"""respond.io webhook events: the signature and the parts of `conversation.closed` the
logger needs. respond.io publishes no schema for them, so they are read leniently: only the
event id, the contact's id and the conversation's `openedTime` are required."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.respondio.conversations import parse_time

CONVERSATION_CLOSED = "conversation.closed"


class EventInvalid(ValueError):
    """A validly signed body that is not a usable event (answered 400)."""


def signature_valid(signing_key: str, body: bytes, header: str | None) -> bool:
    """`header` is base64(HMAC-SHA256(signing key, raw body)), compared in constant time."""
    if not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(signing_key.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def sign(signing_key: str, body: bytes) -> str:
    """The header value respond.io sends for `body` (tests, the bench and the demo use it)."""
    return base64.b64encode(hmac.new(signing_key.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True, slots=True)
class ClosedConversation:
    event_id: str
    contact_id: str
    email: str | None
    phone: str | None
    opened_at: datetime
    conversation_key: str
    payload: dict[str, Any]


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EventInvalid("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise EventInvalid("the body is not a JSON object")
    return payload


def event_type(payload: dict[str, Any]) -> str:
    kind = payload.get("event_type")
    return kind if isinstance(kind, str) else ""


def _text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:limit] or None


def closed_conversation(payload: dict[str, Any]) -> ClosedConversation:
    event_id = _text(payload.get("event_id"), 255)
    if event_id is None:
        raise EventInvalid("event_id is missing")
    contact = payload.get("contact")
    contact_id = _text(contact.get("id"), 64) if isinstance(contact, dict) else None
    if contact_id is None or not isinstance(contact, dict):
        raise EventInvalid("contact.id is missing")
    conversation = payload.get("conversation")
    opened = parse_time(conversation.get("openedTime")) if isinstance(conversation, dict) else None
    if opened is None:
        raise EventInvalid("conversation.openedTime is missing or unreadable")
    # The conversation's identity (respond.io gives it no id): the contact and the moment it
    # opened, to the millisecond whatever unit the event used.
    key = f"{contact_id}@{round(opened.timestamp() * 1000)}"
    return ClosedConversation(
        event_id=event_id,
        contact_id=contact_id,
        email=_text(contact.get("email"), 320),
        phone=_text(contact.get("phone"), 64),
        opened_at=opened,
        conversation_key=key,
        payload=payload,
    )
