from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.salesforce import SalesforceEmulator, create_app
from emulator.server import RunningServer, start_in_thread

from .helpers import login


class _Swap:
    """An ASGI app forwarding to whichever app the current test installed."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


@pytest.fixture(scope="session")
def _sf_server() -> Iterator[tuple[RunningServer, _Swap]]:
    swap = _Swap()
    running = start_in_thread(swap)
    yield running, swap
    running.stop()


@pytest.fixture
def emu(_sf_server: tuple[RunningServer, _Swap]) -> SalesforceEmulator:
    """A fresh seeded emulator, served over real HTTP (one server, a new app per test)."""
    running, swap = _sf_server
    state = SalesforceEmulator()
    state.base_url = running.url
    swap.target = create_app(state)
    return state


@pytest.fixture
def client(emu: SalesforceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url or "", timeout=10) as c:
        yield c


@pytest.fixture
def token(client: httpx.Client, emu: SalesforceEmulator) -> dict[str, Any]:
    """A token of admin@acme.example."""
    return login(client, emu)
