"""Fixtures for the lookup, edit and settings tests: the app on the Salesforce emulator with
a cache clock the test moves by hand, and connected workspaces (grants from the emulator over
real HTTP). A conftest imports the fixtures it wants from here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from tests.helpers.clock import FakeClock
from tests.helpers.database import truncate_all
from tests.helpers.factories import grant_from_emulator, insert_connection

ACME = "00D5g000003GIV7EAO"
GLOBEX = "00D8c000003VlcBEAS"
INITECH = "00D4w0000021va5EAA"


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    return sf_settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[Any]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application
    await truncate_all(settings.async_database_url)


Connect = Callable[..., Awaitable[Any]]


@pytest.fixture
def connect(app: Any, sf_emulator: Any) -> Connect:
    """`await connect("ws-1", ACME)`: the workspace holds a grant of the org's first user."""

    async def run(workspace_id: str, org_id: str = ACME, *, username: str | None = None) -> Any:
        org = sf_emulator.org(org_id)
        grant = await grant_from_emulator(
            sf_emulator.base_url, username or org.default_user.username
        )
        row = await insert_connection(
            app.state.services.db,
            app.state.services.cipher,
            workspace_id,
            grant,
            login_url=sf_emulator.base_url,
        )
        # What the connect flow does after storing a connection.
        await app.state.services.invalidation.purge_workspace(workspace_id)
        return row

    return run
