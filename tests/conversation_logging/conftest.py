"""Conversation logging end to end: the service (through the ASGI transport) receives the
respond.io emulator's signed events; workers run in the test process and call the respond.io
and Salesforce emulators over real HTTP; everything is stored in the test database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.config import Settings
from emulator.respondio import RespondioEmulator
from emulator.server import RunningServer
from tests.helpers.respondio import _empty_queue, _respondio_server, rio

__all__ = ["_empty_queue", "_respondio_server", "rio"]


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
