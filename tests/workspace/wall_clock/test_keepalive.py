"""Quiet workspaces stay connected: Salesforce ends a refresh token unused for N days (the
emulator: `refresh_token_idle_days`, 30), so the worker refreshes every connection at least
every SALESFORCE_KEEPALIVE_HOURS, once across all replicas. The emulator's clock moves the
days; the service's wall clock is a fake one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.models import Connection
from app.workspace.keepalive import KeepAlive
from app.workspace.tokens import TokenStore
from tests.helpers.client_credentials import connect_cc, external_client_app
from tests.helpers.clock import FakeNow
from tests.helpers.emulator_control import advance_days, control, token_fault
from tests.helpers.factories import connect_default_user

ACME = "00D5g000003GIV7EAO"


@pytest.fixture
async def connected(app: Any, sf_emulator: Any) -> str:
    return await connect_default_user(app, sf_emulator, sf_emulator.org(ACME))


def keepalive_of(app: Any, settings: Settings, now: FakeNow, *, own_tokens: bool = False) -> Any:
    services = app.state.services
    tokens = (
        TokenStore(services.db, services.cipher, services.http, settings, now=now)
        if own_tokens  # another replica: its own single flight
        else services.tokens
    )
    return KeepAlive(services.db, tokens, settings, now=now)


async def row(app: Any, workspace_id: str = "ws-1") -> Connection:
    async with app.state.services.db.transaction() as session:
        found = await session.scalar(
            select(Connection).where(Connection.workspace_id == workspace_id)
        )
    assert found is not None
    return found


def refreshes(sf_emulator: Any) -> int:
    return int(sf_emulator.counters.get("token.refresh_token", 0))


async def test_a_quiet_workspace_outlives_the_idle_expiry(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    sf_emulator: Any,
    connected: str,
    settings: Settings,
    now: FakeNow,
) -> None:
    keepalive = keepalive_of(app, settings, now)
    assert await keepalive.tick() == 0  # just connected: nothing due
    assert refreshes(sf_emulator) == 0

    # 60 days without a single lookup; the keep-alive runs as the worker would.
    for _ in range(3):
        await advance_days(sf_emulator, 20)
        now.advance(hours=25)
        assert await keepalive.tick() == 1
        assert await keepalive.tick() == 0  # refreshed: not due again until the next day
    assert refreshes(sf_emulator) == 3

    await control(sf_emulator, "POST", "/expire-tokens", {})
    response = await client.get(
        "/v1/workspaces/ws-1/salesforce/contacts/lookup",
        params={"email": "ana.souza@example.com"},
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    assert (await row(app)).status == "connected"


async def test_without_the_keep_alive_the_grant_dies(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, connected: str
) -> None:
    """What the keep-alive prevents (the emulator enforces the idle expiry)."""
    await advance_days(sf_emulator, 31)
    await control(sf_emulator, "POST", "/expire-tokens", {})
    response = await client.get(
        "/v1/workspaces/ws-1/salesforce/contacts/lookup",
        params={"email": "ana.souza@example.com"},
        headers=auth(),
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "grant_expired_or_revoked"


async def test_replicas_refresh_a_connection_once(
    app: Any, sf_emulator: Any, connected: str, settings: Settings, now: FakeNow
) -> None:
    sf_emulator.rotate_refresh_tokens = True
    replicas = [keepalive_of(app, settings, now, own_tokens=True) for _ in range(4)]
    now.advance(hours=25)

    done = await asyncio.gather(*(replica.tick() for replica in replicas))

    assert sum(done) == 1
    assert refreshes(sf_emulator) == 1
    assert (await row(app)).status == "connected"


async def test_a_dead_grant_is_marked_and_left_alone(
    app: Any, sf_emulator: Any, connected: str, settings: Settings, now: FakeNow
) -> None:
    keepalive = keepalive_of(app, settings, now)
    await control(sf_emulator, "POST", "/revoke-grants", {})
    now.advance(hours=25)

    assert await keepalive.tick() == 0

    stored = await row(app)
    assert stored.status == "reauthorization_required"
    assert stored.status_reason == "grant_expired_or_revoked"
    now.advance(hours=25)
    assert await keepalive.tick() == 0
    assert refreshes(sf_emulator) == 1


async def test_a_refused_refresh_keeps_the_connection(
    app: Any, sf_emulator: Any, connected: str, settings: Settings, now: FakeNow
) -> None:
    keepalive = keepalive_of(app, settings, now)
    await token_fault(sf_emulator, "rate_limit_exceeded", count=1)
    now.advance(hours=25)

    assert await keepalive.tick() == 0
    stored = await row(app)
    assert (stored.status, stored.status_reason) == ("connected", "token_rate_limited")

    # The claim and the back-off keep it from being retried at once ...
    assert await keepalive.tick() == 0
    assert refreshes(sf_emulator) == 1
    # ... and a later tick (claim expired) refreshes it.
    now.advance(minutes=11)
    assert await keepalive.tick() == 1
    assert (await row(app)).status_reason is None


async def test_client_credentials_and_shared_grants_are_not_refreshed_twice(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    sf_emulator: Any,
    settings: Settings,
    now: FakeNow,
) -> None:
    """A client-credentials connection has no refresh token to keep alive (its next access
    token is asked with the secret when needed); workspaces sharing one grant keep it alive
    with one refresh."""
    ext = await external_client_app(sf_emulator)
    assert (await connect_cc(client, auth, sf_emulator, ext, ws="ws-cc")).status_code == 200
    org = sf_emulator.org(ACME)
    for ws in ("ws-1", "ws-2", "ws-3"):
        await connect_default_user(app, sf_emulator, org, ws)
    keepalive = keepalive_of(app, settings, now)
    sf_emulator.reset_counters()
    now.advance(hours=25)

    assert await keepalive.tick() == 1

    assert refreshes(sf_emulator) == 1
    assert sf_emulator.counters["token.client_credentials"] == 0
    assert sf_emulator.counters["token"] == 1
    assert (await row(app, "ws-cc")).status == "connected"
