"""The Task's text, and the event fields the logger reads, without any server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.conversation_logging import transcript
from app.conversation_logging.events import (
    EventInvalid,
    closed_conversation,
    sign,
    signature_valid,
)
from app.respondio.conversations import Message, next_cursor, parse_message, parse_time


def message(**overrides: object) -> Message:
    values: dict[str, object] = {
        "message_id": "1",
        "at": datetime(2026, 12, 4, 10, 1, 30, tzinfo=UTC),
        "traffic": "outgoing",
        "channel_id": "7",
        "source": "user",
        "user_id": "42",
        "text": "hello",
    }
    values.update(overrides)
    return Message(**values)  # type: ignore[arg-type]


def test_a_long_transcript_keeps_its_beginning_and_says_how_much_was_cut() -> None:
    lines = [f"[2026-12-04 10:{i % 60:02d}] Ana: " + "x" * 90 for i in range(1000)]
    text = transcript.description("Summary", lines)
    full = "Summary\n\n" + "\n".join(lines)
    assert len(text) == transcript.DESCRIPTION_LIMIT
    marker = text.rsplit("\n", 1)[1]
    assert marker.startswith("[transcript truncated: ") and marker.endswith(" more characters]")
    hidden = int(marker.split(": ")[1].split(" ")[0])
    kept = text[: -len(marker) - 1]
    assert full.startswith(kept) and len(kept) + hidden == len(full)


def test_a_transcript_within_the_limit_is_whole() -> None:
    assert transcript.description(None, ["a", "b"]) == "a\nb"
    assert transcript.description("  Done. ", []) == "Done."
    exact = "y" * transcript.DESCRIPTION_LIMIT
    assert transcript.description(None, [exact]) == exact


def test_subject_and_who() -> None:
    assert transcript.subject("WhatsApp", "Resolved") == "WhatsApp conversation: Resolved"
    assert transcript.subject("WhatsApp", None) == "WhatsApp conversation"
    assert transcript.subject(None, "Spam") == "Conversation: Spam"
    assert transcript.subject(None, " ") == "Conversation"
    users = {"42": "Sam Seller"}
    assert transcript.line(message(), "Ana", users) == "[2026-12-04 10:01] Sam Seller: hello"
    assert transcript.who(message(traffic="incoming"), "Ana", users) == "Ana"
    assert transcript.who(message(source="workflow", user_id=None), "Ana", users) == "workflow"
    assert transcript.line(message(at=None), "Ana", users) == "Sam Seller: hello"


def test_respondio_items_are_read_leniently() -> None:
    item = {
        "messageId": 9,
        "traffic": "incoming",
        "channelId": 3,
        "message": {"type": "attachment", "attachment": {"type": "image", "fileName": "a.png"}},
        "sender": {"source": "contact"},
        "timestamp": 1_764_842_400_000,
    }
    parsed = parse_message(item)
    assert parsed is not None and parsed.text == "[attachment: a.png]"
    assert parsed.at == datetime(2025, 12, 4, 10, 0, tzinfo=UTC)
    assert parse_time(1_764_842_400) == parsed.at  # seconds or milliseconds
    assert parse_time("2025-12-04T10:00:00Z") == parsed.at
    assert parse_message({"traffic": "incoming"}) is None
    assert next_cursor({"pagination": {"next": ""}}) is None
    assert next_cursor({"pagination": {"next": None}}) is None
    assert next_cursor({"pagination": {"next": "https://x/v2/l?limit=100&cursorId=55"}}) == "55"


def test_signature_and_the_conversation_key() -> None:
    body = b'{"a": 1}'
    assert signature_valid("k", body, sign("k", body))
    assert not signature_valid("k", body, sign("other", body))
    assert not signature_valid("k", body, None)
    event = {"event_id": "e1", "contact": {"id": 5}, "conversation": {"openedTime": 1764842400}}
    in_seconds = closed_conversation(event)
    in_millis = closed_conversation(
        {**event, "conversation": {"openedTime": 1764842400000}, "event_id": "e2"}
    )
    assert in_seconds.conversation_key == in_millis.conversation_key == "5@1764842400000"
    with pytest.raises(EventInvalid):
        closed_conversation({**event, "conversation": {}})
