"""Two replicas of the service in one process: two app instances sharing the database, the
Salesforce emulator and a Redis (`CACHE_URL`), each with its own in-process caches.

Redis is the one at `TEST_CACHE_URL` (default `redis://127.0.0.1:6379/0`); every test uses a
key prefix of its own and deletes its keys afterwards. Without a reachable Redis these tests
are skipped (CI starts one).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio

from app.config import Settings
from app.main import create_app
from tests.helpers.database import truncate_all
from tests.helpers.factories import grant_from_emulator, insert_connection
from tests.helpers.faultproxy import FaultProxy
from tests.helpers.replicas import ACME, Replica, StartReplica

REDIS_URL = os.environ.get("TEST_CACHE_URL", "redis://127.0.0.1:6379/0")


async def _redis_answers(url: str) -> bool:
    client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(await client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def redis_url() -> str:
    if not await _redis_answers(REDIS_URL):
        pytest.skip(f"no Redis answering at {REDIS_URL} (set TEST_CACHE_URL)")
    return REDIS_URL


@pytest.fixture
async def key_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"sfint-test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        names = [name async for name in client.scan_iter(match=prefix + "*", count=1000)]
        if names:
            await client.unlink(*names)
    finally:
        await client.aclose()


@pytest.fixture
def shared_settings(sf_settings: Settings, redis_url: str, key_prefix: str) -> Settings:
    return sf_settings.model_copy(update={"cache_url": redis_url, "cache_key_prefix": key_prefix})


@pytest.fixture
async def start_replica(shared_settings: Settings) -> AsyncIterator[StartReplica]:
    """`await start_replica()` (or with Settings overrides, or `clock=` a fake cache clock):
    a running app and its client."""
    started: list[tuple[Any, Any, httpx.AsyncClient]] = []

    async def start(clock: Any = None, **overrides: Any) -> Replica:
        settings = shared_settings.model_copy(update=overrides) if overrides else shared_settings
        app = create_app(settings, clock=clock)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        started.append((app, lifespan, client))
        return Replica(app, client)

    yield start
    for _, lifespan, client in reversed(started):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
    await truncate_all(shared_settings.async_database_url)


@pytest.fixture
async def replicas(start_replica: StartReplica) -> tuple[Replica, Replica]:
    return await start_replica(), await start_replica()


@pytest.fixture
def connect(sf_emulator: Any) -> Callable[..., Awaitable[None]]:
    """`await connect(replica, "ws-1", ACME)`: store a grant as the connect flow would, then
    purge through that replica (what the OAuth callback does)."""

    async def run(replica: Replica, workspace_id: str, org_id: str = ACME) -> None:
        org = sf_emulator.org(org_id)
        grant = await grant_from_emulator(sf_emulator.base_url, org.default_user.username)
        app = replica.app
        await insert_connection(
            app.state.services.db,
            app.state.services.cipher,
            workspace_id,
            grant,
            login_url=sf_emulator.base_url,
        )
        await app.state.services.invalidation.purge_workspace(workspace_id)

    return run


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[FaultProxy]:
    """A fault-injecting proxy in front of the test Redis; `redis_proxy.address(redis_url)`
    reaches it through the proxy."""
    target = urlsplit(redis_url)
    async with FaultProxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        yield proxy


@pytest.fixture
def replica_behind_proxy(
    start_replica: StartReplica,
    connect: Callable[..., Awaitable[None]],
    redis_url: str,
    redis_proxy: FaultProxy,
) -> Callable[..., Awaitable[Replica]]:
    """`await replica_behind_proxy(**overrides)`: a replica reaching Redis through
    `redis_proxy`, with ws-1 connected."""

    async def start(**overrides: Any) -> Replica:
        replica = await start_replica(cache_url=redis_proxy.address(redis_url), **overrides)
        await connect(replica, "ws-1")
        return replica

    return start
