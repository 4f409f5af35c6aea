"""The headers of the requests the emulator received, newest last: what a test reads to see
what the service sent (a `traceparent`, `Sforce-Call-Options`), in process as
`state.requests` or over HTTP as `GET /__emulator/requests?path=<prefix>`."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

KEPT = 2000
# Never kept: a test has no business reading the service's credentials back.
REDACTED = {"authorization", "cookie"}

router = APIRouter(prefix="/__emulator")


class RequestLog:
    def __init__(self, size: int = KEPT) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def add(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._entries.append({"method": method, "path": path, "headers": headers})

    def matching(self, path_prefix: str = "") -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._entries if e["path"].startswith(path_prefix)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RecordRequests:
    """ASGI middleware: every request but the control API's own is recorded."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/__emulator"):
            headers = {
                key.decode("latin-1").lower(): value.decode("latin-1")
                for key, value in scope["headers"]
            }
            for key in REDACTED & headers.keys():
                headers[key] = "(redacted)"
            self.log.add(scope["method"], scope["path"], headers)
        await self.app(scope, receive, send)


@router.get("/requests")
async def recorded_requests(request: Request, path: str = "") -> JSONResponse:
    return JSONResponse(request.app.state.sf.requests.matching(path))


@router.delete("/requests")
async def forget_requests(request: Request) -> JSONResponse:
    request.app.state.sf.requests.clear()
    return JSONResponse({"ok": True})
