"""Fixtures for the respond.io client tests: the respond.io emulator over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from emulator.respondio import RespondioEmulator, create_app
from emulator.server import start_in_thread
from tests.helpers.respondio import RespondioServer


@pytest.fixture(scope="session")
def _respondio_server() -> Iterator[RespondioServer]:
    state = RespondioEmulator()
    running = start_in_thread(create_app(state))
    try:
        yield RespondioServer(state=state, url=running.url)
    finally:
        running.stop()


@pytest.fixture
def respondio_emulator(_respondio_server: RespondioServer) -> Iterator[RespondioServer]:
    """The shared emulator, reset before and after each test."""
    _respondio_server.state.reset()
    try:
        yield _respondio_server
    finally:
        _respondio_server.state.allowed_tokens = None
        _respondio_server.state.reset()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
