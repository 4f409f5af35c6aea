"""While the org's stream is healthy its lookup answers live
LOOKUP_CACHE_TTL_STREAMING_SECONDS (one hour) instead of LOOKUP_CACHE_TTL_SECONDS, in the
process's own cache and in Redis alike; when the stream stops, the short TTL is back."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import httpx
import pytest
import redis.asyncio

from app.config import Settings
from app.main import create_app
from tests.helpers.autocreate import connect_workspace, running_worker, wait_until
from tests.helpers.clock import FakeClock
from tests.helpers.lookups import lookup
from tests.stream.helpers import wait_for_state

REDIS_URL = os.environ.get("TEST_CACHE_URL", "redis://127.0.0.1:6379/0")


async def _redis_answers() -> bool:
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        return bool(await client.ping())
    except (OSError, redis.RedisError):
        return False
    finally:
        await client.aclose()


async def test_answers_live_an_hour_while_the_org_streams(
    settings: Settings, sf_emulator: Any, auth: Any
) -> None:
    clock = FakeClock()
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        await connect_workspace(app, sf_emulator, "ws-1")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            health = app.state.services.stream_listener.health
            async with running_worker(settings, jobs=False, reconcile=False):
                await wait_for_state(app, "streaming")
                await wait_until(lambda: _knows(health, True))
                assert (await lookup(http, auth, email="ana.souza@example.com")).status_code == 200
                clock.advance(30 * 60)  # half an hour: still the cached answer
                answer = await lookup(http, auth, email="ana.souza@example.com")
                assert answer.json()["cached"] is True
                clock.advance(31 * 60)  # past the hour
                answer = await lookup(http, auth, email="ana.souza@example.com")
                assert answer.json()["cached"] is False
            # The worker stopped and released the org: back to the one-minute TTL.
            await wait_until(lambda: _knows(health, False))
            assert (await lookup(http, auth, email="ana.souza@example.com")).json()["cached"]
            clock.advance(61)
            answer = await lookup(http, auth, email="ana.souza@example.com")
            assert answer.json()["cached"] is False


async def test_in_redis_too_the_streaming_ttl_applies(
    settings: Settings, sf_emulator: Any, auth: Any
) -> None:
    """Redis keeps time itself: short TTLs on the real clock (1 s, and 6 s streaming)."""
    if not await _redis_answers():
        pytest.skip(f"no Redis answering at {REDIS_URL}")
    settings = settings.model_copy(
        update={
            "cache_url": REDIS_URL,
            "cache_key_prefix": f"t{uuid.uuid4().hex[:8]}:",
            "lookup_cache_ttl_seconds": 1.0,
            "lookup_cache_ttl_streaming_seconds": 6.0,
            "lookup_near_cache_ttl_seconds": 0.0,
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await connect_workspace(app, sf_emulator, "ws-1")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            health = app.state.services.stream_listener.health
            async with running_worker(settings, jobs=False, reconcile=False):
                await wait_for_state(app, "streaming")
                await wait_until(lambda: _knows(health, True))
                assert (await lookup(http, auth, email="ana.souza@example.com")).status_code == 200
                await asyncio.sleep(2)  # past the 1 s TTL, well within the streaming one
                answer = await lookup(http, auth, email="ana.souza@example.com")
                assert answer.json()["cached"] is True
            await wait_until(lambda: _knows(health, False))
            await asyncio.sleep(1.5)  # not streaming: the 1 s TTL is back
            answer = await lookup(http, auth, email="ana.souza@example.com")
            assert answer.json()["cached"] is False


async def _knows(health: Any, streaming: bool) -> bool:
    return ("ws-1" in health.streaming) is streaming
