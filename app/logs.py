"""Structured JSON logs: the message is a dotted event name, fields go in `extra`.

Every record is one JSON object per line: `ts`, `level`, `logger`, `event`, then the
record's `extra` fields (and `exc_info` / `stack_info` when present). A request writes one
such line, so the formatter is built for speed: orjson, and the timestamp's date and time
formatted once per second rather than once per record.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import logging
import sys
import time
from types import TracebackType
from typing import Any

import orjson
from opentelemetry import trace
from sqlalchemy.exc import DBAPIError

# Attributes every LogRecord has: anything else on a record came from `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_OPTIONS = orjson.OPT_NON_STR_KEYS

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def database_messages(exc: BaseException | None) -> list[str]:
    """The texts of the database errors in `exc`'s chain. PostgreSQL and asyncpg quote the
    offending value in them ('invalid input syntax for type uuid: "..."', 'invalid input for
    query argument $1: ...'), and values are customer data."""
    found: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        candidates = [exc]
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            candidates.append(exc.orig)
        for candidate in candidates:
            if type(candidate).__module__.startswith("asyncpg") or candidate is not exc:
                text = str(candidate)
                if text:
                    found.append(text)
        exc = exc.__cause__ or exc.__context__
    return found


def _json_default(value: Any) -> Any:
    """Values orjson does not write itself (and, on the fallback path, the ones it does),
    written as the previous JSON formatter wrote them."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, type):
        return value.__name__
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record; the timestamp reads like `2025-01-31 12:00:00,123`, local
    time, as logging's default `asctime`. Tracebacks carry no database error text (SQL
    parameters are hidden by the engines too: app.db)."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            # A race between threads at a second boundary only formats the same text twice.
            self._second_text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._second = second
        return f"{self._second_text},{int(record.msecs):03d}"

    def formatException(self, ei: ExcInfo) -> str:  # type: ignore[override]  # noqa: N802
        text = super().formatException(ei)
        for message in sorted(database_messages(ei[1]), key=len, reverse=True):
            text = text.replace(message, "<database error text hidden>")
        return text

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                line[key] = value
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            # The trace this line belongs to (docs/operations.md, "Traces").
            line["trace_id"] = format(context.trace_id, "032x")
            line["span_id"] = format(context.span_id, "016x")
        try:
            return orjson.dumps(line, default=_json_default, option=_OPTIONS).decode()
        except (TypeError, orjson.JSONEncodeError):
            # e.g. an integer wider than 64 bits: never lose the line over one field.
            return json.dumps(line, default=_json_default)


def json_formatter() -> logging.Formatter:
    return JsonLineFormatter()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The lines carry no caller location, thread or process: skip collecting them for every
    # record (the Logging HOWTO's "Optimization" section).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # uvicorn's access log prints raw paths and query strings (OAuth codes, webhook keys);
    # app.observability logs requests by route template instead.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
