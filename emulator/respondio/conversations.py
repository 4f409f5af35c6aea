"""Conversations, messages, users, channels and webhooks of the respond.io emulator.

State per API token (each token is its own workspace, as for contacts): the workspace's
users and channels, each contact's messages (in arrival order; ids increase), the open
conversation of each contact, and the webhooks to which `conversation.closed` events go.
Events are signed as respond.io signs them: header `X-Webhook-Signature` = base64 of
HMAC-SHA256 of the raw body with the webhook's signing key.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

MAX_PAGE = 100
SOURCES = ("user", "ai_agent", "workflow", "api", "echo", "broadcast")


def sign(signing_key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(signing_key.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Delivery:
    """A signed event ready to post: `body` exactly as signed, `headers` to send with it."""

    url: str | None
    event_id: str
    body: bytes
    headers: dict[str, str]


@dataclass
class _Webhook:
    url: str
    signing_key: str


@dataclass
class _Space:
    users: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by contact id
    open: dict[int, dict[str, Any]] = field(default_factory=dict)  # contact id -> conversation
    webhooks: list[_Webhook] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> payload


class ConversationStore:
    """Thread-safe like the contacts state (tests poke it from the test thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spaces: dict[str, _Space] = {}
        self._next_id = 5_000_001

    def reset(self) -> None:
        with self._lock:
            self._spaces.clear()

    def _space(self, token: str) -> _Space:
        return self._spaces.setdefault(token, _Space())

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- the workspace's directory -------------------------------------------------------

    def add_user(self, token: str, first: str, last: str, email: str) -> dict[str, Any]:
        with self._lock:
            user = {
                "id": self._id(),
                "firstName": first,
                "lastName": last,
                "email": email,
                "role": "agent",
            }
            self._space(token).users.append(user)
            return dict(user)

    def add_channel(self, token: str, name: str, source: str = "whatsapp") -> dict[str, Any]:
        with self._lock:
            channel = {"id": self._id(), "name": name, "source": source}
            self._space(token).channels.append(channel)
            return dict(channel)

    def users(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._space(token).users)

    def channels(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._space(token).channels)

    # -- conversations and messages ------------------------------------------------------

    def open_conversation(
        self, token: str, contact_id: int, opened_ms: int | None = None, source: str = "contact"
    ) -> dict[str, Any]:
        with self._lock:
            conversation = {
                "openedTime": opened_ms if opened_ms is not None else int(time.time() * 1000),
                "openedBySource": source,
            }
            # Messages added from now on belong to it (ids increase), with or without a time.
            self._space(token).open[contact_id] = {**conversation, "after_id": self._next_id}
            return dict(conversation)

    def add_message(
        self,
        token: str,
        contact_id: int,
        *,
        traffic: str,
        text: str | None = None,
        attachment: dict[str, Any] | None = None,
        source: str | None = None,
        user_id: int | None = None,
        channel_id: int | None = None,
        timestamp_ms: int | None = None,
        with_timestamp: bool = True,
    ) -> dict[str, Any]:
        if traffic not in ("incoming", "outgoing"):
            raise ValueError("traffic is incoming or outgoing")
        with self._lock:
            message_id = self._id()
            body: dict[str, Any] = (
                {"type": "attachment", "attachment": attachment}
                if attachment is not None
                else {"type": "text", "text": text or ""}
            )
            sender: dict[str, Any] = {
                "source": source or ("contact" if traffic == "incoming" else "api")
            }
            if user_id is not None:
                sender["userId"] = user_id
            item: dict[str, Any] = {
                "messageId": message_id,
                "channelMessageId": f"wamid.{uuid.uuid4().hex[:16]}",
                "contactId": contact_id,
                "channelId": channel_id,
                "traffic": traffic,
                "message": body,
                "status": [{"value": "delivered", "timestamp": timestamp_ms}],
                "sender": sender,
            }
            if with_timestamp:
                item["timestamp"] = (
                    timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
                )
            self._space(token).messages.setdefault(contact_id, []).append(item)
            return copy.deepcopy(item)

    def message_page(
        self, token: str, contact_id: int, limit: int, cursor: int | None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first (by time, then by id); `cursor` is the id of the last message of the
        previous page."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        with self._lock:
            messages = self._space(token).messages.get(contact_id, [])
            newest_first = sorted(
                messages, key=lambda m: (m.get("timestamp") or 0, m["messageId"]), reverse=True
            )
            if cursor is not None:
                ids = [m["messageId"] for m in newest_first]
                after = ids.index(cursor) + 1 if cursor in ids else len(ids)
                newest_first = newest_first[after:]
            page = newest_first[:limit]
            more = len(newest_first) > limit
            return copy.deepcopy(page), (page[-1]["messageId"] if more and page else None)

    # -- webhooks and events -------------------------------------------------------------

    def add_webhook(self, token: str, url: str, signing_key: str) -> None:
        """A webhook of the token's workspace (the same URL again replaces its key)."""
        with self._lock:
            space = self._space(token)
            space.webhooks = [w for w in space.webhooks if w.url != url]
            space.webhooks.append(_Webhook(url, signing_key))

    def close_conversation(
        self,
        token: str,
        contact: dict[str, Any],
        *,
        category: str | None = "Resolved",
        summary: str | None = None,
        closed_ms: int | None = None,
        closed_by_user: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The contact's open conversation closed: its `conversation.closed` payload (kept,
        so it can be delivered and redelivered)."""
        with self._lock:
            space = self._space(token)
            conversation = space.open.pop(contact["id"], None)
            if conversation is None:
                raise ValueError("the contact has no open conversation")
            messages = space.messages.get(contact["id"], [])
            opened = conversation["openedTime"]
            closed = closed_ms if closed_ms is not None else int(time.time() * 1000)
            during = [
                m
                for m in messages
                if m["messageId"] > conversation["after_id"]
                and (m.get("timestamp") is None or opened <= m["timestamp"] <= closed)
            ]
            event_id = str(uuid.uuid4())
            payload: dict[str, Any] = {
                "event_id": event_id,
                "event_type": "conversation.closed",
                "contact": {
                    **{
                        k: contact.get(k) for k in ("id", "firstName", "lastName", "email", "phone")
                    },
                    "language": contact.get("language"),
                    "assignee": copy.deepcopy(closed_by_user),
                    "tags": list(contact.get("tags") or []),
                },
                "conversation": {
                    "category": category,
                    "summary": summary,
                    "openedTime": opened,
                    "openedBySource": conversation["openedBySource"],
                    "closedTime": closed,
                    "closedBy": copy.deepcopy(closed_by_user),
                    "closedBySource": "user" if closed_by_user else "workflow",
                    "firstResponseTime": None,
                    "resolutionTime": closed - opened,
                    "incomingMessageCount": sum(1 for m in during if m["traffic"] == "incoming"),
                    "outgoingMessageCount": sum(1 for m in during if m["traffic"] == "outgoing"),
                    "assigneeTeam": None,
                    "lastAssignmentTime": None,
                },
            }
            space.events[event_id] = payload
            return copy.deepcopy(payload)

    def deliveries(
        self,
        token: str,
        event_id: str,
        *,
        new_id: bool = False,
        sign_wrongly: bool = False,
        url: str | None = None,
        signing_key: str | None = None,
    ) -> list[Delivery]:
        """The event, signed for each of the token's webhooks (or for `url`/`signing_key`):
        `new_id` re-sends it under a fresh event id, `sign_wrongly` signs with another key."""
        with self._lock:
            space = self._space(token)
            payload = space.events.get(event_id)
            if payload is None:
                raise ValueError("unknown event")
            if new_id:
                payload = {**copy.deepcopy(payload), "event_id": str(uuid.uuid4())}
                space.events[payload["event_id"]] = payload
            targets = (
                [_Webhook(url or "", signing_key)]
                if signing_key is not None
                else list(space.webhooks)
            )
        body = json.dumps(payload, separators=(",", ":")).encode()
        return [
            Delivery(
                url=target.url or None,
                event_id=payload["event_id"],
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Webhook-Signature": sign(
                        target.signing_key + ("-wrong" if sign_wrongly else ""), body
                    ),
                },
            )
            for target in targets
        ]
