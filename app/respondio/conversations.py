"""respond.io reads for conversation logging: a contact's messages (paged, newest first), the
workspace's users and channels. Wire formats only; parsed leniently (respond.io publishes no
schema for them), and every page is one bounded call through `RespondioClient`.

Paging: respond.io answers `{"items": [...], "pagination": {"next": "<url>", ...}}`; the
next page is asked with the `cursorId` of `next`'s query, always on our own base URL (the URL
an answer names is never called itself). `next` null or "" ends the list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from app.respondio.client import RespondioClient

PAGE_LIMIT = 100  # respond.io's largest page
MAX_DIRECTORY_PAGES = 50  # users or channels: 5,000 at most


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    at: datetime | None
    traffic: str  # incoming | outgoing | ""
    channel_id: str | None
    source: str | None  # sender.source: user, ai_agent, workflow, api, echo, broadcast
    user_id: str | None
    text: str  # the text, or "[attachment: name]"


def parse_time(value: Any) -> datetime | None:
    """A respond.io time: epoch seconds or milliseconds (the unit is not documented), or an
    ISO 8601 string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 100_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return parse_time(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _text_of(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return " ".join(text.split())
    attachment = message.get("attachment")
    if isinstance(attachment, dict):
        name = attachment.get("fileName") or attachment.get("name") or attachment.get("type")
        return f"[attachment: {name or 'file'}]"
    kind = message.get("type")
    return f"[{kind}]" if isinstance(kind, str) and kind else ""


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_message(item: Any) -> Message | None:
    if not isinstance(item, dict) or item.get("messageId") is None:
        return None
    raw_sender = item.get("sender")
    sender: dict[str, Any] = raw_sender if isinstance(raw_sender, dict) else {}
    return Message(
        message_id=str(item["messageId"]),
        at=parse_time(item.get("timestamp", item.get("createdAt"))),
        traffic=str(item.get("traffic") or ""),
        channel_id=_str(item.get("channelId")),
        source=_str(sender.get("source")),
        user_id=_str(sender.get("userId")),
        text=_text_of(item.get("message")),
    )


def next_cursor(page: dict[str, Any]) -> str | None:
    pagination = page.get("pagination")
    link = pagination.get("next") if isinstance(pagination, dict) else None
    if not isinstance(link, str) or not link.strip():
        return None
    values = parse_qs(urlsplit(link).query).get("cursorId")
    return values[0] if values and values[0] else None


def _items(page: dict[str, Any] | None) -> list[Any]:
    items = (page or {}).get("items")
    return items if isinstance(items, list) else []


async def messages_newest_first(
    client: RespondioClient, api_token: str, contact_id: str
) -> AsyncIterator[Message]:
    """The contact's messages, newest first, one page (100) per call, for as long as the
    caller keeps reading."""
    path = f"/contact/{quote('id:' + contact_id, safe='')}/message/list"
    params: dict[str, Any] = {"limit": PAGE_LIMIT}
    seen: set[str] = set()
    while True:
        page = await client.get_json("list_messages", api_token, path, params)
        for item in _items(page):
            message = parse_message(item)
            if message is not None and message.message_id not in seen:
                seen.add(message.message_id)
                yield message
        cursor = next_cursor(page or {})
        if cursor is None or cursor == params.get("cursorId"):
            return
        params = {"limit": PAGE_LIMIT, "cursorId": cursor}


async def _directory(client: RespondioClient, api_token: str, operation: str, path: str) -> list:
    found: list[Any] = []
    params: dict[str, Any] = {"limit": PAGE_LIMIT}
    for _ in range(MAX_DIRECTORY_PAGES):
        page = await client.get_json(operation, api_token, path, params)
        found.extend(i for i in _items(page) if isinstance(i, dict))
        cursor = next_cursor(page or {})
        if cursor is None:
            break
        params = {"limit": PAGE_LIMIT, "cursorId": cursor}
    return found


async def user_names(client: RespondioClient, api_token: str) -> dict[str, str]:
    """The workspace's users: id → "First Last" (or their email)."""
    names: dict[str, str] = {}
    for user in await _directory(client, api_token, "list_users", "/space/user"):
        if user.get("id") is None:
            continue
        name = " ".join(str(user.get(k) or "").strip() for k in ("firstName", "lastName"))
        names[str(user["id"])] = name.strip() or str(user.get("email") or user["id"])
    return names


async def channel_names(client: RespondioClient, api_token: str) -> dict[str, str]:
    """The workspace's channels: id → name."""
    return {
        str(channel["id"]): str(channel.get("name") or channel.get("source") or "")
        for channel in await _directory(client, api_token, "list_channels", "/space/channel")
        if channel.get("id") is not None
    }
