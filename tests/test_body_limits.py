"""Every route that takes a body refuses it before reading or parsing it when the caller is
not authenticated (401) or not of the workspace (403), and refuses an oversized body by its
`Content-Length` or, streamed without one, as soon as the bytes read pass the limit (413):
no body is ever held whole in memory before these checks (docs/security.md)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.config import Settings
from app.kit.body import API_MAX_BODY_BYTES
from app.main import create_app

CHUNK = 64 * 1024
RECORD_IDS = {"contact_id": "003000000000001AAA", "lead_id": "00Q000000000001AAA"}


def body_routes() -> list[tuple[str, str]]:
    """Every operation of the API that declares a request body (read from the OpenAPI)."""
    application = create_app(Settings(_env_file=None, environment="test", database_url="x"))  # type: ignore[call-arg]
    routes = []
    for path, operations in application.openapi()["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                concrete = re.sub(r"\{(\w+)\}", lambda m: RECORD_IDS.get(m.group(1), "ws-1"), path)
                routes.append((method.upper(), concrete))
    return sorted(routes)


BODY_ROUTES = body_routes()
# The routes a caller token authenticates. A webhook (respond.io's) authenticates by the key in
# its URL and a signature over the raw body, so it must read the body (at most 1 MiB) first.
CALLER_BODY_ROUTES = [(m, p) for m, p in BODY_ROUTES if p.startswith("/v1/workspaces/")]


@dataclass
class Exchange:
    """One request driven at the ASGI level: the body offered chunk by chunk, and how much of
    it the app pulled."""

    chunks_offered: int
    chunks_read: int = 0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


async def drive(
    app: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: int,
    *,
    declared_length: int | None = None,
    then_leave: bool = False,
    then_stall: bool = False,
) -> Exchange:
    exchange = Exchange(chunks_offered=chunks)
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"content-type", b"application/json"))
    if declared_length is not None:
        raw_headers.append((b"content-length", str(declared_length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        if exchange.chunks_read >= chunks and then_stall:
            await asyncio.Event().wait()  # a client that sends no more and stays connected
        if exchange.chunks_read >= chunks:
            return {"type": "http.disconnect"}
        exchange.chunks_read += 1
        more = then_leave or then_stall or exchange.chunks_read < chunks
        return {"type": "http.request", "body": b"[" * CHUNK, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")

    await app(scope, receive, send)
    return exchange


HUGE = 2000  # chunks of 64 KiB: 125 MiB offered


def test_every_body_route_is_covered() -> None:
    paths = {path for _, path in BODY_ROUTES}
    assert any(p.endswith("/salesforce/settings") for p in paths)
    assert any(p.endswith("/respondio-credentials") for p in paths)
    assert any(p.endswith("/salesforce/connect") for p in paths)
    assert len(BODY_ROUTES) >= 8


@pytest.mark.parametrize(("method", "path"), CALLER_BODY_ROUTES)
async def test_an_unauthenticated_body_is_never_read(app: Any, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        exchange = await drive(app, method, path, headers, HUGE)
        assert exchange.status == 401, (exchange.status, exchange.body[:200])
        assert exchange.chunks_read == 0
        assert b"unauthenticated" in exchange.body


@pytest.mark.parametrize(("method", "path"), CALLER_BODY_ROUTES)
async def test_another_workspace_s_body_is_never_read(
    app: Any, auth: Callable[..., dict[str, str]], method: str, path: str
) -> None:
    exchange = await drive(app, method, path, auth("ws-2"), HUGE)
    assert exchange.status == 403, exchange.body[:200]
    assert exchange.chunks_read == 0


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_a_declared_oversized_body_is_refused_unread(
    app: Any, auth: Callable[..., dict[str, str]], method: str, path: str
) -> None:
    exchange = await drive(app, method, path, auth(), HUGE, declared_length=API_MAX_BODY_BYTES + 1)
    assert exchange.status == 413, exchange.body[:200]
    assert b"request_too_large" in exchange.body
    assert exchange.chunks_read == 0


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_a_streamed_oversized_body_is_refused_at_the_limit(
    app: Any, auth: Callable[..., dict[str, str]], method: str, path: str
) -> None:
    exchange = await drive(app, method, path, auth(), HUGE)
    assert exchange.status == 413, exchange.body[:200]
    assert b"request_too_large" in exchange.body
    assert exchange.chunks_read <= API_MAX_BODY_BYTES // CHUNK + 1


def _server_errors(metrics: str, route: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("http_requests_total{") and f'route="{route}"' in line:
            if 'status="5' in line:
                total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        (
            "PUT",
            "/v1/workspaces/ws-1/salesforce/settings",
            "/v1/workspaces/{workspace_id}/salesforce/settings",
        ),
        (
            "PATCH",
            "/v1/workspaces/ws-1/salesforce/contacts/003000000000001AAA",
            "/v1/workspaces/{workspace_id}/salesforce/contacts/{contact_id}",
        ),
        (
            "POST",
            "/v1/webhooks/salesforce/outbound-messages/some-key",
            "/v1/webhooks/salesforce/outbound-messages/{key}",
        ),
    ],
)
async def test_a_client_leaving_mid_body_is_quiet(
    app: Any,
    client: Any,
    auth: Callable[..., dict[str, str]],
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    route: str,
) -> None:
    """The client goes away after the first chunk of its body: nothing to answer, no ERROR
    logged and no server error counted in /metrics (a client's doing, not the service's)."""
    before = _server_errors((await client.get("/metrics")).text, route)
    caplog.set_level(logging.INFO)
    exchange = await drive(app, method, path, auth(), 1, then_leave=True)
    assert exchange.status == 0  # nobody left to answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _server_errors((await client.get("/metrics")).text, route) == before
    assert any(r.getMessage() == "http.client_disconnected" for r in caplog.records)


@pytest.mark.parametrize(
    ("method", "path", "problem"),
    [
        ("PUT", "/v1/workspaces/ws-1/salesforce/settings", b"request_timeout"),
        ("POST", "/v1/webhooks/salesforce/outbound-messages/some-key", b"soapenv:Fault"),
    ],
)
async def test_a_body_that_stops_arriving_is_answered_408(
    make_settings: Callable[..., Settings],
    auth: Callable[..., dict[str, str]],
    method: str,
    path: str,
    problem: bytes,
) -> None:
    """A slow client cannot hold a request open forever by sending part of its body: past
    REQUEST_BODY_TIMEOUT_SECONDS it is answered 408 and the connection is freed."""
    application = create_app(make_settings(request_body_timeout_seconds=0.5))
    async with application.router.lifespan_context(application), asyncio.timeout(20):
        exchange = await drive(application, method, path, auth(), 1, then_stall=True)
    assert exchange.status == 408, exchange.body[:300]
    assert problem in exchange.body
