"""The respond.io emulator as the client tests see it, and the fixtures of the test folders
that run workers against it (a conftest imports the ones it wants)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from emulator.respondio import RespondioEmulator
from emulator.respondio import create_app as create_respondio_app
from emulator.server import RunningServer, start_in_thread


@dataclass
class RespondioServer:
    state: RespondioEmulator
    url: str

    @property
    def base_url(self) -> str:
        return self.url + "/v2"


@pytest.fixture(scope="session")
def _respondio_server() -> Iterator[tuple[RespondioEmulator, RunningServer]]:
    state = RespondioEmulator()
    running = start_in_thread(create_respondio_app(state))
    try:
        yield state, running
    finally:
        running.stop()


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


@pytest.fixture(autouse=True)
async def _empty_queue(database_url: str) -> None:
    """PgQueuer's tables are not on Base.metadata, so the app fixture does not empty them."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")
    finally:
        await conn.close()
