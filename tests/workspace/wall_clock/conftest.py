"""Tests that move the service's wall clock (token refresh times, keep-alive): the app on the
Salesforce emulator with a `FakeNow` the test advances."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.helpers.wall_clock_app import app, now

__all__ = ["app", "now"]


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    return sf_settings
