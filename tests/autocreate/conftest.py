"""Auto-create runs end to end against both emulators over real HTTP: the Salesforce emulator
builds the Outbound Messages (its exact bytes are posted to the service through the ASGI
transport), the workers call the respond.io emulator, and everything is stored in the test
database. Workers run in-process (or as a subprocess for the kill test) with tiny delays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest

from app.config import Settings
from emulator.respondio import RespondioEmulator
from emulator.respondio import create_app as create_respondio_app
from emulator.server import RunningServer, start_in_thread
from tests.helpers.autocreate import (
    Workspace,
    connect_workspace,
    fast_settings,
)


@pytest.fixture(scope="session")
def _respondio_server() -> Iterator[tuple[RespondioEmulator, RunningServer]]:
    state = RespondioEmulator()
    running = start_in_thread(create_respondio_app(state))
    try:
        yield state, running
    finally:
        running.stop()


@pytest.fixture
def rio_idle(
    _respondio_server: tuple[RespondioEmulator, RunningServer],
) -> Callable[[], Awaitable[bool]]:
    """Whether the respond.io emulator holds no connection and runs no request: whatever a
    killed client had sent has been answered, or never arrived."""
    _, running = _respondio_server

    async def idle() -> bool:
        served = running.server.server_state
        return not served.connections and not served.tasks

    return idle


@pytest.fixture
def rio(
    _respondio_server: tuple[RespondioEmulator, RunningServer],
) -> Iterator[RespondioEmulator]:
    """The respond.io emulator, reset around each test."""
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
    request: pytest.FixtureRequest,
) -> Settings:
    host = sf_emulator.base_url.split("://", 1)[1]
    overrides = getattr(request, "param", {})
    return make_settings(
        **fast_settings(
            {
                "salesforce_login_url": sf_emulator.base_url,
                "salesforce_sandbox_login_url": sf_emulator.base_url,
                "salesforce_extra_allowed_hosts": host,
                "respondio_api_base_url": _respondio_server[1].url + "/v2",
            }
        ),
        **overrides,
    )


@pytest.fixture(autouse=True)
async def _empty_queue(database_url: str) -> None:
    """PgQueuer's tables are not on Base.metadata, so the app fixture does not empty them."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")
    finally:
        await conn.close()


@pytest.fixture
async def workspace(app: Any, sf_emulator: Any) -> Workspace:
    """ws-1 connected to the emulator's Acme org, auto-create on (tag on, bulk imports off),
    a respond.io token stored. Enabled an hour ago so test Contacts can carry past dates."""
    return await connect_workspace(app, sf_emulator, "ws-1")
