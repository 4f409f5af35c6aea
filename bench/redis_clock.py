"""Time passing in Redis, for benches that compress a day on a fake clock.

With `CACHE_URL` the shared lookup answers are fresh while their remaining TTL in Redis is
above a threshold, measured on Redis's own clock, which a fake clock cannot move. Taking
`seconds` off the TTL of every key under a prefix (and deleting those with no more left) is
what that much time passing does to them: the answers, their locks and their indexes age
exactly as in a real day, and the rest of Redis (other prefixes, keys without a TTL) is left
alone.
"""

from __future__ import annotations

import os
import uuid

import redis
from redis.asyncio import Redis

BENCH_CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/0")

# KEYS: the keys; ARGV[1]: milliseconds passed.
_AGE = """
local passed = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local left = redis.call('PTTL', key)
  if left > 0 then
    if left <= passed then redis.call('DEL', key) else redis.call('PEXPIRE', key, left - passed) end
  end
end
return #KEYS
"""
_BATCH = 500


class RedisClock:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = Redis.from_url(url)
        self._prefix = prefix
        self._age = self._redis.register_script(_AGE)

    async def advance(self, seconds: float) -> None:
        passed = int(seconds * 1000)
        if passed <= 0:
            return
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=self._prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= _BATCH:
                await self._age(keys=batch, args=[passed])
                batch = []
        if batch:
            await self._age(keys=batch, args=[passed])

    async def clear(self) -> None:
        names = [key async for key in self._redis.scan_iter(match=self._prefix + "*", count=1000)]
        if names:
            await self._redis.unlink(*names)

    async def close(self) -> None:
        await self._redis.aclose()


def redis_answers(url: str = BENCH_CACHE_URL) -> bool:
    with redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5) as client:
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False


def bench_prefix() -> str:
    """A key prefix of its own for one run (Redis may be shared with tests or other runs)."""
    return f"bench-{uuid.uuid4().hex[:8]}:"
