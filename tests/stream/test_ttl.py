"""While the org's stream is healthy its lookup answers live
LOOKUP_CACHE_TTL_STREAMING_SECONDS (one hour) instead of LOOKUP_CACHE_TTL_SECONDS, in the
process's own cache and in Redis alike; when the stream stops, the short TTL is back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.helpers.autocreate import connect_workspace, running_worker, wait_until
from tests.helpers.clock import FakeClock
from tests.helpers.database import truncate_all
from tests.helpers.lookups import lookup
from tests.scaleout.conftest import REDIS_URL, _redis_answers
from tests.stream.helpers import wait_for_state

ANA = {"email": "ana.souza@example.com"}


@asynccontextmanager
async def streaming_app(
    settings: Settings,
    sf_emulator: Any,
    clock: FakeClock | None = None,
    *,
    stop_worker: bool = False,
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app (ws-1 connected to Acme) and a client of it, once a worker streams the org
    (and, with `stop_worker`, once that worker has stopped again). Yields the client and
    what the app knows of the streams."""
    app = create_app(settings, clock=clock) if clock is not None else create_app(settings)
    async with app.router.lifespan_context(app), cleaned_up(settings):
        await connect_workspace(app, sf_emulator, "ws-1")
        health = app.state.services.stream_listener.health
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            async with running_worker(settings, jobs=False, reconcile=False):
                await wait_for_state(app, "streaming")
                await wait_until(lambda: _knows(health, True))
                if not stop_worker:
                    yield http, health
            if stop_worker:
                yield http, health


@asynccontextmanager
async def cleaned_up(settings: Settings) -> AsyncIterator[None]:
    """Empty every table afterwards, as the `app` fixture does."""
    try:
        yield
    finally:
        await truncate_all(settings.async_database_url)


async def _knows(health: Any, streaming: bool) -> bool:
    return ("ws-1" in health.streaming) is streaming


async def test_answers_live_an_hour_while_the_org_streams(
    settings: Settings, sf_emulator: Any, auth: Any
) -> None:
    clock = FakeClock()
    async with streaming_app(settings, sf_emulator, clock) as (http, health):
        assert (await lookup(http, auth, **ANA)).status_code == 200
        clock.advance(30 * 60)  # half an hour: still the cached answer
        assert (await lookup(http, auth, **ANA)).json()["cached"] is True
        clock.advance(31 * 60)  # past the hour
        assert (await lookup(http, auth, **ANA)).json()["cached"] is False


async def test_when_the_stream_stops_the_short_ttl_is_back(
    settings: Settings, sf_emulator: Any, auth: Any
) -> None:
    clock = FakeClock()
    async with streaming_app(settings, sf_emulator, clock, stop_worker=True) as (http, health):
        # The worker stopped and released the org: back to the one-minute TTL.
        await wait_until(lambda: _knows(health, False))
        assert (await lookup(http, auth, **ANA)).status_code == 200
        clock.advance(61)
        assert (await lookup(http, auth, **ANA)).json()["cached"] is False


async def test_in_redis_too_the_streaming_ttl_applies(
    settings: Settings, sf_emulator: Any, auth: Any
) -> None:
    """Redis keeps time itself: short TTLs on the real clock (1 s, and 6 s streaming)."""
    if not await _redis_answers(REDIS_URL):
        pytest.skip(f"no Redis answering at {REDIS_URL}")
    shared = settings.model_copy(
        update={
            "cache_url": REDIS_URL,
            "cache_key_prefix": f"t{uuid.uuid4().hex[:8]}:",
            "lookup_cache_ttl_seconds": 1.0,
            "lookup_cache_ttl_streaming_seconds": 6.0,
            "lookup_near_cache_ttl_seconds": 0.0,
        }
    )
    async with streaming_app(shared, sf_emulator) as (http, _health):
        assert (await lookup(http, auth, **ANA)).status_code == 200
        await asyncio.sleep(2)  # past the 1 s TTL, well within the streaming one
        assert (await lookup(http, auth, **ANA)).json()["cached"] is True
