"""The change stream end to end: the Salesforce emulator over HTTP and its Pub/Sub API over
gRPC, the respond.io emulator, workers in-process (or as subprocesses for the kill test) and
the app through the ASGI transport, sharing the test database. Leases are short here (3 s)
so takeovers take seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.config import Settings
from emulator.respondio import RespondioEmulator
from emulator.salesforce.pubsub_server import RunningPubSub, start_pubsub_server
from emulator.server import RunningServer
from tests.autocreate.conftest import _empty_queue, _respondio_server, rio  # noqa: F401
from tests.helpers.autocreate import Workspace, connect_workspace, fast_settings

LEASE_SECONDS = 3.0


@pytest.fixture
def pubsub(sf_emulator: Any) -> Iterator[RunningPubSub]:
    running = start_pubsub_server(sf_emulator)
    running.servicer.keepalive_seconds = 1.0
    try:
        yield running
    finally:
        running.stop()


def stream_settings(
    make_settings: Callable[..., Settings],
    sf_emulator: Any,
    respondio_url: str,
    pubsub: RunningPubSub,
    **overrides: Any,
) -> Settings:
    host = sf_emulator.base_url.split("://", 1)[1]
    return make_settings(
        **fast_settings(
            {
                "salesforce_login_url": sf_emulator.base_url,
                "salesforce_sandbox_login_url": sf_emulator.base_url,
                "salesforce_extra_allowed_hosts": f"{host},{pubsub.address}",
                "respondio_api_base_url": respondio_url + "/v2",
                "change_stream_enabled": True,
                "salesforce_pubsub_address": pubsub.address,
                "change_stream_lease_seconds": LEASE_SECONDS,
                "change_stream_silence_seconds": 5.0,
            }
        ),
        **overrides,
    )


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    sf_emulator: Any,
    _respondio_server: tuple[RespondioEmulator, RunningServer],  # noqa: F811
    pubsub: RunningPubSub,
) -> Settings:
    return stream_settings(make_settings, sf_emulator, _respondio_server[1].url, pubsub)


@pytest.fixture
async def workspace(app: Any, sf_emulator: Any) -> Workspace:
    """ws-1 connected to Acme, auto-create on, a respond.io token stored."""
    return await connect_workspace(app, sf_emulator, "ws-1")
