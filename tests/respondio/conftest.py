"""Fixtures for the respond.io client tests: the respond.io emulator over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from emulator.respondio import RespondioEmulator, create_app


@dataclass
class _Running:
    url: str
    port: int
    stop: Callable[[], None]


def _start_in_thread(asgi_app: Any) -> Any:
    """emulator.server.start_in_thread when it exists, else uvicorn on a free loopback port."""
    try:
        from emulator.server import start_in_thread
    except ImportError:
        pass
    else:
        return start_in_thread(asgi_app)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the respond.io emulator did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return _Running(url=f"http://127.0.0.1:{port}", port=port, stop=stop)


@dataclass
class RespondioServer:
    state: RespondioEmulator
    url: str

    @property
    def base_url(self) -> str:
        return self.url + "/v2"


@pytest.fixture(scope="session")
def _respondio_server() -> Iterator[RespondioServer]:
    state = RespondioEmulator()
    running = _start_in_thread(create_app(state))
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
