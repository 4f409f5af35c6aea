"""The change stream's NOTIFY payloads stay under PostgreSQL's 8,000-byte limit however many
records a batch changed, and together carry every id and identifier."""

from __future__ import annotations

import json

from app.workspace.stream_state import payloads


def test_a_large_batch_is_split_under_the_limit_and_loses_nothing() -> None:
    ids = [f"0035g{n:013d}" for n in range(1000)]
    identifiers = [f"person{n}@example.com" for n in range(300)]
    out = payloads("00D5g000003GIV7EAO", ["ws-1", "ws-2"], ids, identifiers)
    assert len(out) > 1
    assert all(len(p.encode()) < 8000 for p in out)
    messages = [json.loads(p) for p in out]
    assert [c for m in messages for c in m["c"]] == ids
    assert [i for m in messages for i in m["i"]] == identifiers
    assert all(m["w"] == ["ws-1", "ws-2"] and m["o"] == "00D5g000003GIV7EAO" for m in messages)


def test_a_purge_or_health_message_carries_no_ids() -> None:
    [purge] = payloads("00D5g000003GIV7EAO", ["ws-1"], purge=True)
    assert json.loads(purge) == {
        "o": "00D5g000003GIV7EAO",
        "w": ["ws-1"],
        "p": True,
        "h": False,
        "c": [],
        "i": [],
    }
