"""Connection tests run the whole OAuth flow against the Salesforce emulator over real HTTP:
the service answers through the ASGI transport, the browser's steps at the emulator (login
form, allow/deny) go over the network like a real browser's."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from app.config import Settings
from tests.helpers.browser import Browser


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    return sf_settings


@pytest.fixture
def browser(client: httpx.AsyncClient, auth: Callable[..., dict[str, str]]) -> Browser:
    return Browser(client, auth)
