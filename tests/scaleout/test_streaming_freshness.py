"""In Redis, how long an answer is fresh depends on its workspace (an hour while the org
streams, a minute otherwise): every read asks for the workspace's own TTL, so a read of a
streaming workspace never makes another workspace's answers look fresh for longer."""

from __future__ import annotations

import asyncio

import redis.asyncio

from app.workspace.redis_streaming import StreamingRedisLookupCache
from tests.helpers.cache_entries import entry, key

TTLS = {"ws-streaming": 30.0, "ws-polling": 0.5}


async def test_a_streaming_workspaces_read_does_not_lengthen_anothers_freshness(
    redis_url: str, key_prefix: str
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    cache = StreamingRedisLookupCache(
        client,
        ttl_for=TTLS.__getitem__,
        max_ttl_seconds=30.0,
        ttl_seconds=0.5,
        prefix=key_prefix,
    )
    try:
        await cache.set(key("ws-polling", "a@example.com"), entry("003A"))
        await cache.set(key("ws-streaming", "b@example.com"), entry("003B"))
        assert await cache.contact_entry("ws-polling", "003A") is not None
        await asyncio.sleep(1.0)  # past the polling workspace's TTL
        assert await cache.get(key("ws-streaming", "b@example.com")) is not None
        assert await cache.get(key("ws-polling", "a@example.com")) is None
        assert await cache.contact_entry("ws-polling", "003A") is None
        assert await cache.contact_entry("ws-streaming", "003B") is not None
    finally:
        await cache.close()
