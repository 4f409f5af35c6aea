"""Conversation logging end to end: the service (through the ASGI transport) receives the
respond.io emulator's signed events; workers run in the test process and call the respond.io
and Salesforce emulators over real HTTP; everything is stored in the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import pytest

from app.config import Settings
from app.main import create_app
from emulator.respondio import RespondioEmulator
from emulator.respondio import create_app as create_respondio_app
from emulator.server import RunningServer, start_in_thread
from tests.helpers.database import truncate_all


@pytest.fixture(scope="session")
def _respondio_server() -> Iterator[tuple[RespondioEmulator, RunningServer]]:
    state = RespondioEmulator()
    running = start_in_thread(create_respondio_app(state))
    try:
        yield state, running
    finally:
        running.stop()


@pytest.fixture
def rio(_respondio_server: tuple[RespondioEmulator, RunningServer]) -> Iterator[RespondioEmulator]:
    state, _ = _respondio_server
    state.reset()
    try:
        yield state
    finally:
        state.reset()


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    sf_emulator: Any,
    _respondio_server: tuple[RespondioEmulator, RunningServer],
) -> Settings:
    host = sf_emulator.base_url.split("://", 1)[1]
    return make_settings(
        salesforce_login_url=sf_emulator.base_url,
        salesforce_sandbox_login_url=sf_emulator.base_url,
        salesforce_extra_allowed_hosts=host,
        respondio_api_base_url=_respondio_server[1].url + "/v2",
        respondio_max_requests_per_second=1000.0,
        respondio_timeout_seconds=3.0,
        salesforce_timeout_seconds=3.0,
        autocreate_job_heartbeat_seconds=1.0,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
    await truncate_all(settings.async_database_url)


@pytest.fixture(autouse=True)
async def _empty_queue(database_url: str) -> None:
    """PgQueuer's tables are not on Base.metadata, so the app fixture does not empty them."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")
    finally:
        await conn.close()
