"""Request bodies of the `/v1/workspaces/...` routes: the caller is authenticated (401/403)
before a byte of the body is read, and the body is read with a cap (413 `request_too_large`
past API_MAX_BODY_BYTES, by `Content-Length` or while streaming; 408 `request_timeout` when it
has not all arrived within REQUEST_BODY_TIMEOUT_SECONDS) before any route parses it.
FastAPI reads a declared body before it solves the route's dependencies, so this cannot be a
dependency: it is a middleware, inside the error and metrics middleware (docs/security.md)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.deps import authenticate
from app.errors import AppError, RequestTimeout, RequestTooLarge, problem_response
from app.kit.body import API_MAX_BODY_BYTES, BodyTooLarge, receive_bounded

PREFIX = "/v1/workspaces/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RouteTemplate:
    """What the metrics and logs name a request the guard answered (app.errors.route_template)."""

    def __init__(self, path: str) -> None:
        self.path = path


class BodyGuard:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int = API_MAX_BODY_BYTES, timeout: float = 10.0
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        # (path pattern, template, methods) of every workspace route, read from the OpenAPI
        # document on first use: a path or method served by no route is left to the router
        # (404, 405), so only real routes authenticate first.
        self._routes: list[tuple[re.Pattern[str], RouteTemplate, frozenset[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or not scope["path"].startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        route = self._route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        # Named in metrics and logs if answered (or abandoned) here; the router sets the
        # route itself otherwise.
        scope["route"] = route
        try:
            workspace_id = scope["path"][len(PREFIX) :].split("/", 1)[0]
            authenticate(Request(scope), workspace_id)
            body = await self._read(scope, receive)
        except AppError as error:
            await problem_response(error)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _route(self, scope: Scope) -> RouteTemplate | None:
        if self._routes is None:
            self._routes = _workspace_routes(scope["app"])
        method, path = scope["method"], scope["path"]
        for pattern, template, methods in self._routes:
            if method in methods and pattern.match(path):
                return template
        return None

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        try:
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise BodyTooLarge
            async with asyncio.timeout(self.timeout):
                return await receive_bounded(receive, self.max_bytes)
        except BodyTooLarge:
            raise RequestTooLarge(f"The body may be at most {self.max_bytes} bytes.") from None
        except TimeoutError:
            raise RequestTimeout(
                f"The body did not arrive within {self.timeout:g} seconds.",
                headers={"Connection": "close"},
            ) from None


def _workspace_routes(
    application: Any,
) -> list[tuple[re.Pattern[str], RouteTemplate, frozenset[str]]]:
    routes = []
    for path, operations in application.openapi()["paths"].items():
        if path.startswith(PREFIX):
            methods = frozenset(m.upper() for m in operations) & BODY_METHODS
            if methods:
                routes.append((compile_path(path)[0], RouteTemplate(path), methods))
    return routes


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, as the route's first receive(); then the client's channel
    (a later `http.disconnect`)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
