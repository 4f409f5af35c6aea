"""Fixtures for tests that move the service's wall clock (token refresh times, keep-alive,
connect links expiring): the app on the Salesforce emulator with a `FakeNow` the test
advances. A conftest or test module imports the fixtures it wants from here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.config import Settings
from tests.helpers.clock import FakeNow, app_with_wall_clock


@pytest.fixture
def now() -> FakeNow:
    return FakeNow()


@pytest.fixture
async def app(settings: Settings, now: FakeNow) -> AsyncIterator[Any]:
    async with app_with_wall_clock(settings, now) as application:
        yield application
