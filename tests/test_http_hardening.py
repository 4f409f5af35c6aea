"""Hostile and careless HTTP: forged Host headers, bodies that are not UTF-8, OPTIONS, a
database that is down, and the keep-alive connection after an error (docs/api.md, "Errors")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter

from app.config import Settings
from app.main import create_app

DOWN_URL = "postgresql+asyncpg://postgres@127.0.0.1:1/none"  # nothing listens on port 1


async def test_no_redirect_points_at_the_host_header(
    client: httpx.AsyncClient, auth: Callable[..., dict[str, str]], settings: Settings
) -> None:
    for path in ("/v1/workspaces/ws-1/salesforce/connection/", "/healthz/", "/docs/"):
        response = await client.get(path, headers={**auth(), "Host": "evil.example"})
        location = response.headers.get("location")
        assert location is None or location.startswith(settings.public_base_url), (
            path,
            response.status_code,
            location,
        )
        assert "evil.example" not in response.text


async def test_a_body_that_is_not_utf8_is_a_validation_error(
    client: httpx.AsyncClient, auth: Callable[..., dict[str, str]]
) -> None:
    response = await client.put(
        "/v1/workspaces/ws-1/salesforce/settings",
        content=b'{"visible_fields": ["\xff\xfe"]}',
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"


async def test_options_lists_every_method_of_the_path(
    client: httpx.AsyncClient, auth: Callable[..., dict[str, str]]
) -> None:
    response = await client.options("/v1/workspaces/ws-1/salesforce/connection", headers=auth())
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "DELETE"} <= allowed


@pytest.fixture
async def down_client(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its database unreachable."""
    application = create_app(make_settings(database_url=DOWN_URL))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/workspaces/ws-1/salesforce/connection"),
        ("GET", "/v1/workspaces/ws-1/salesforce/settings"),
        ("GET", "/v1/workspaces/ws-1/salesforce/contacts/lookup?email=a@example.com"),
        ("GET", "/v1/workspaces/ws-1/salesforce/contacts/003000000000001AAA/history"),
        ("POST", "/v1/workspaces/ws-1/salesforce/connect"),
        ("POST", "/v1/webhooks/respondio/some-key"),  # respond.io retries it later
        ("GET", "/v1/workspaces/ws-1/salesforce/conversation-logging"),
    ],
)
async def test_a_database_that_is_down_is_a_503_with_retry_after(
    down_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    method: str,
    path: str,
) -> None:
    response = await down_client.request(method, path, headers=auth())
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "service_unavailable"
    assert int(response.headers["retry-after"]) > 0


BOOM = APIRouter()


@BOOM.get("/boom")
async def boom() -> None:
    raise RuntimeError("a bug")


@pytest.fixture
async def served(make_settings: Callable[..., Settings]) -> AsyncIterator[str]:
    """The app (plus a route with a bug, and its database down) under uvicorn on a free port."""
    application = create_app(make_settings(database_url=DOWN_URL))
    application.include_router(BOOM)
    config = uvicorn.Config(application, host="127.0.0.1", port=0, log_level="critical")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_errors_keep_the_connection_alive(
    served: str, auth: Callable[..., dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 (a bug) or a 503 (database down) is an ordinary answer: the client's keep-alive
    connection survives it, and uvicorn logs no "Exception in ASGI application"."""
    peers: list[Any] = []

    async def remember_peer(response: httpx.Response) -> None:
        stream = response.extensions["network_stream"]
        peers.append(stream.get_extra_info("client_addr"))

    caplog.set_level(logging.ERROR)
    async with httpx.AsyncClient(
        base_url=served, event_hooks={"response": [remember_peer]}
    ) as http:
        first = await http.get("/boom")
        second = await http.get("/v1/workspaces/ws-1/salesforce/connection", headers=auth())
        third = await http.get("/healthz")
    assert (first.status_code, first.json()["code"]) == (500, "internal_error")
    assert (second.status_code, second.json()["code"]) == (503, "service_unavailable")
    assert third.status_code == 200
    assert len(set(peers)) == 1, peers
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]
