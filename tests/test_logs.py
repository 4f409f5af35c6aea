"""The JSON log line: one object per record, the same fields whatever the values."""

from __future__ import annotations

import datetime
import json
import logging
import uuid

from app.logs import JsonLineFormatter


def _line(message: str, *args: object, exc: bool = False, **extra: object) -> dict[str, object]:
    record = logging.getLogger("app.test").makeRecord(
        "app.test", logging.INFO, __file__, 1, message, args, None, extra=extra
    )
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            record.exc_info = sys.exc_info()
    return json.loads(JsonLineFormatter().format(record))


def test_the_line_carries_the_event_and_its_fields() -> None:
    line = _line("http.request", method="GET", route="/v1/x", status=200, duration_ms=1.5)
    assert set(line) == {
        "ts",
        "level",
        "logger",
        "event",
        "method",
        "route",
        "status",
        "duration_ms",
    }
    assert line["level"] == "INFO"
    assert line["logger"] == "app.test"
    assert line["event"] == "http.request"
    assert line["status"] == 200
    assert isinstance(line["ts"], str)
    datetime.datetime.strptime(str(line["ts"]), "%Y-%m-%d %H:%M:%S,%f")


def test_values_json_cannot_hold_are_written_as_text() -> None:
    when = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    ident = uuid.UUID(int=1)
    line = _line(
        "x.y", when=when, ident=ident, raw=b"x", error=KeyError("k"), huge=2**70, kind=object
    )
    assert line["when"] == "2025-01-02T03:04:05+00:00"
    assert line["ident"] == str(ident)
    assert line["raw"] == "eA=="
    assert line["error"] == "KeyError: 'k'"
    assert line["huge"] == 2**70
    assert line["kind"] == "object"


def test_exceptions_and_arguments() -> None:
    line = _line("plain %s", "arg", exc=True)
    assert line["event"] == "plain arg"
    assert "ValueError: boom" in str(line["exc_info"])
