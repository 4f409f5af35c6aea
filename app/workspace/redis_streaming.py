"""The Redis lookup cache whose freshness follows the workspace: the answers of an org whose
change stream is healthy live LOOKUP_CACHE_TTL_STREAMING_SECONDS (docs/real-time.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from app.workspace.lookup_cache import DEFAULT_STALE_SECONDS, LookupKey
from app.workspace.redis_cache import RedisLookupCache


class StreamingRedisLookupCache(RedisLookupCache):
    def __init__(
        self,
        redis: Redis,
        *,
        ttl_for: Callable[[str], float],
        max_ttl_seconds: float,
        stale_seconds: float = DEFAULT_STALE_SECONDS,
        **kwargs: Any,
    ) -> None:
        # Entries are kept at least as long as the longest freshness.
        super().__init__(redis, stale_seconds=max(stale_seconds, max_ttl_seconds), **kwargs)
        self._ttl_for = ttl_for

    async def _read_entry(
        self, key: LookupKey, digest: str, *, lock: str | None
    ) -> tuple[str, bytes | None, bool, bool]:
        # An entry is fresh while its remaining TTL is above `_fresh_above_ms`; the base class
        # reads it when it builds the script's arguments, before its first await, so setting
        # it here for this key's workspace holds for exactly this read.
        ttl_ms = min(self._stale_ms, max(1, int(self._ttl_for(key.workspace_id) * 1000)))
        self._fresh_above_ms = self._stale_ms - ttl_ms
        return await super()._read_entry(key, digest, lock=lock)
