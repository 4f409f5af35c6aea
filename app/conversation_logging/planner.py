"""The Task a closed conversation becomes: its record, its messages read back from
respond.io, its subject, transcript and owner (docs/conversation-logging.md)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.conversation_logging import transcript
from app.conversation_logging.matching import RecordFinder, active_user_with_email
from app.kit.singleflight import TTLSingleFlight
from app.respondio.client import RespondioClient
from app.respondio.conversations import (
    Message,
    channel_names,
    messages_newest_first,
    parse_time,
    user_names,
)
from app.salesforce.client import SalesforceClient

DIRECTORY_TTL_SECONDS = 300.0  # users and channels of a workspace, owners of an org
MAX_MESSAGES = 20_000  # a bound on one conversation's reading, whatever respond.io answers
NO_RECORD = "no Salesforce Contact or Lead matches the contact's email or phone"


@dataclass(frozen=True, slots=True)
class Plan:
    record_id: str
    owner_id: str | None
    subject: str
    description: str
    activity_date: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


def _dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _count(conversation: dict[str, Any]) -> int | None:
    counts = [conversation.get(k) for k in ("incomingMessageCount", "outgoingMessageCount")]
    numbers = [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c >= 0]
    return sum(numbers) if numbers else None


async def conversation_messages(
    client: RespondioClient, token: str, contact_id: str, conversation: dict[str, Any]
) -> list[Message]:
    """The conversation's messages, oldest first: back to `openedTime` (those after
    `closedTime` left out), or, for messages without a time, as many as the event counts."""
    opened = parse_time(conversation.get("openedTime"))
    closed = parse_time(conversation.get("closedTime"))
    expected = _count(conversation)
    taken: list[Message] = []
    async for message in messages_newest_first(client, token, contact_id):
        if message.at is not None:
            if closed is not None and message.at > closed:
                continue
            if opened is not None and message.at < opened:
                break
        elif expected is None or len(taken) >= expected:
            break
        taken.append(message)
        if len(taken) >= MAX_MESSAGES or (message.at is None and len(taken) >= (expected or 0)):
            break
    taken.reverse()
    return taken


def _directory() -> Any:
    return TTLSingleFlight(ttl_seconds=DIRECTORY_TTL_SECONDS, max_entries=10_000)


class Planner:
    def __init__(
        self,
        respondio: RespondioClient,
        salesforce: SalesforceClient,
        default_region: str,
    ) -> None:
        self._respondio = respondio
        self._salesforce = salesforce
        self._finder = RecordFinder(salesforce, default_region)
        # One load per key for concurrent jobs, kept a few minutes.
        self._users: TTLSingleFlight[str, dict[str, str]] = _directory()
        self._channels: TTLSingleFlight[str, dict[str, str]] = _directory()
        self._owners: TTLSingleFlight[tuple[str, str], str | None] = _directory()

    async def plan(self, row: Any, token: str) -> Plan | Skip:
        ws = row["workspace_id"]
        event = _dict(row["event"])
        contact = _dict(event.get("contact"))
        conversation = _dict(event.get("conversation"))
        match = await self._finder.find(
            ws,
            contact.get("email") or None,
            contact.get("phone") or None,
            leads=bool(row["leads_enabled"]),
            normalized=row["phone_matching"] == "normalized",
        )
        if match is None:
            return Skip(NO_RECORD)
        messages = await conversation_messages(
            self._respondio, token, str(contact.get("id")), conversation
        )
        minimum = int(row["conversation_logging_min_messages"] or 1)
        if len(messages) < minimum:
            return Skip(f"{len(messages)} messages, fewer than min_messages ({minimum})")
        users: dict[str, str] = {}
        if any(m.source == "user" and m.user_id for m in messages):
            users = await self._users.get(ws, lambda: user_names(self._respondio, token))
        channel = None
        channel_ids = Counter(m.channel_id for m in messages if m.channel_id)
        if channel_ids:
            names = await self._channels.get(ws, lambda: channel_names(self._respondio, token))
            channel = names.get(channel_ids.most_common(1)[0][0])
        name = transcript.contact_name(contact)
        closed = parse_time(conversation.get("closedTime"))
        occurred = closed or datetime.now(UTC)
        return Plan(
            record_id=match.record_id,
            owner_id=await self._owner(ws, contact),
            subject=transcript.subject(channel, conversation.get("category")),
            description=transcript.description(
                conversation.get("summary"),
                (transcript.line(m, name, users) for m in messages),
            ),
            activity_date=occurred.date().isoformat(),
            occurred_at=occurred,
        )

    async def _owner(self, ws: str, contact: dict[str, Any]) -> str | None:
        """The Salesforce user whose email is the respond.io assignee's (looked up once)."""
        assignee = _dict(contact.get("assignee"))
        email = str(assignee.get("email") or "").strip().lower()
        if not email:
            return None
        owner: str | None = await self._owners.get(
            (ws, email), lambda: active_user_with_email(self._salesforce, ws, email)
        )
        return owner
