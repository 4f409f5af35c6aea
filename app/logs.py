"""Structured JSON logs: the message is a dotted event name, fields go in `extra`."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.exc import DBAPIError

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


class SafeJsonFormatter(JsonFormatter):
    """JSON lines whose tracebacks carry no database error text (SQL parameters are hidden
    by the engines too: app.db)."""

    def formatException(self, ei: ExcInfo) -> str:  # noqa: N802 - logging's name
        formatted = super().formatException(ei)
        text = formatted if isinstance(formatted, str) else "\n".join(formatted)
        for message in sorted(database_messages(ei[1]), key=len, reverse=True):
            text = text.replace(message, "<database error text hidden>")
        return text


def json_formatter() -> logging.Formatter:
    return SafeJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={
            "asctime": "ts",
            "levelname": "level",
            "name": "logger",
            "message": "event",
        },
    )


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log prints raw paths and query strings (OAuth codes, webhook keys);
    # app.observability logs requests by route template instead.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
