"""The Redis lookup cache whose freshness follows the workspace: the answers of an org whose
change stream is healthy live LOOKUP_CACHE_TTL_STREAMING_SECONDS (docs/real-time.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from app.workspace.lookup_cache import DEFAULT_STALE_SECONDS
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

    def _fresh_above_ms(self, workspace_id: str) -> int:
        # Asked by every read, for the read's own workspace (lookups and `contact_entry`).
        ttl_ms = min(self._stale_ms, max(1, int(self._ttl_for(workspace_id) * 1000)))
        return self._stale_ms - ttl_ms
