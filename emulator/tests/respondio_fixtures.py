"""The fixtures of the respond.io emulator's tests: one server per test module, its state
reset around each test, API clients by token, and an admin client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from emulator.respondio import RespondioEmulator, create_app
from emulator.server import start_in_thread

TOKEN = "token-a"


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[RespondioEmulator, str]]:
    state = RespondioEmulator()
    running = start_in_thread(create_app(state))
    try:
        yield state, running.url
    finally:
        running.stop()


@pytest.fixture
def state(_server: tuple[RespondioEmulator, str]) -> Iterator[RespondioEmulator]:
    _server[0].reset()
    yield _server[0]
    _server[0].reset()


@pytest.fixture
def api(_server: tuple[RespondioEmulator, str], state: RespondioEmulator) -> Iterator[Callable]:
    """``api(token)`` → an httpx.Client on /v2 with that bearer token (None: no header)."""
    clients: list[httpx.Client] = []

    def make(token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        client = httpx.Client(base_url=_server[1] + "/v2", headers=headers, timeout=10)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def admin(_server: tuple[RespondioEmulator, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=_server[1] + "/__emulator", timeout=10) as client:
        yield client
