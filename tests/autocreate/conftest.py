"""Auto-create runs end to end against both emulators over real HTTP: the Salesforce emulator
builds the Outbound Messages (its exact bytes are posted to the service through the ASGI
transport), the workers call the respond.io emulator, and everything is stored in the test
database. Workers run in-process (or as a subprocess for the kill test) with tiny delays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.config import Settings
from emulator.respondio import RespondioEmulator
from emulator.server import RunningServer
from tests.helpers.autocreate import (
    Workspace,
    connect_workspace,
    fast_settings,
)
from tests.helpers.respondio import _empty_queue, _respondio_server, rio


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


@pytest.fixture
async def workspace(app: Any, sf_emulator: Any) -> Workspace:
    """ws-1 connected to the emulator's Acme org, auto-create on (tag on, bulk imports off),
    a respond.io token stored. Enabled an hour ago so test Contacts can carry past dates."""
    return await connect_workspace(app, sf_emulator, "ws-1")


__all__ = ["_empty_queue", "_respondio_server", "rio"]
