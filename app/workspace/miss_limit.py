"""A workspace's rate of lookup cache misses (each one costs the org Salesforce calls), and,
with the same limiter under another name, of its Salesforce-calling writes
(app.workspace.write_gate).

GCRA, the token bucket written as one timestamp per workspace (the "theoretical arrival
time"): `LOOKUP_MISS_RATE_PER_WORKSPACE` misses per second on average, up to
`LOOKUP_MISS_BURST_PER_WORKSPACE` at once. `acquire()` returns 0 when the miss may go to
Salesforce, else the seconds until it could (the `Retry-After` of the 429).

`MemoryMissLimiter` counts per process; `RedisMissLimiter` (with CACHE_URL) keeps the
timestamp in Redis and decides in one Lua script on Redis's clock, so the limit holds across
every replica. While Redis fails, each replica falls back to its own in-process count.
(`limits` offers Redis-backed fixed and moving windows, but needs another Redis client; a
GCRA is a dozen lines of Lua on the client we already use.)
"""

from __future__ import annotations

import logging
from typing import Protocol

from redis.asyncio import Redis

from app.kit.clocks import Clock, monotonic
from app.workspace.redis_wire import REDIS_FAILURES, RedisHealth

RETRY_AFTER_SECONDS = 1.0

logger = logging.getLogger("app.workspace.miss_limit")

MAX_WORKSPACES = 100_000
EPSILON_SECONDS = 1e-9

GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then return allow_at - now end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return 0
"""


class MissLimiter(Protocol):
    async def acquire(self, workspace_id: str) -> float:
        """0 when one more miss may go to Salesforce now, else seconds to wait."""


class MemoryMissLimiter:
    def __init__(self, rate: float, burst: int, *, clock: Clock = monotonic) -> None:
        self._interval = 1.0 / rate
        self._burst = max(1, burst)
        self._clock = clock
        self._tat: dict[str, float] = {}

    async def acquire(self, workspace_id: str) -> float:
        now = self._clock()
        tat = max(self._tat.get(workspace_id, now), now)
        new_tat = tat + self._interval
        allow_at = new_tat - self._interval * self._burst
        # With a rounding margin: 20 steps of 0.2 s add up to a hair over 4 s, which refused
        # the last request of a full burst.
        if allow_at - now > EPSILON_SECONDS:
            return allow_at - now
        if len(self._tat) >= MAX_WORKSPACES and workspace_id not in self._tat:
            # Drop the buckets that are full again (their timestamp has passed).
            self._tat = {w: t for w, t in self._tat.items() if t > now}
        self._tat[workspace_id] = new_tat
        return 0.0


class RedisMissLimiter:
    def __init__(
        self,
        redis: Redis,
        rate: float,
        burst: int,
        *,
        prefix: str,
        fallback: MemoryMissLimiter,
        name: str = "missrate",
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(GCRA_SCRIPT)
        self._interval_ms = max(1, round(1000.0 / rate))
        self._burst = max(1, burst)
        self._prefix = f"{prefix}{name}:"
        self._fallback = fallback
        self._name = name
        self._health = RedisHealth(logger, RETRY_AFTER_SECONDS)

    async def acquire(self, workspace_id: str) -> float:
        if self._health.skipping():
            return await self._fallback.acquire(workspace_id)
        try:
            wait_ms = await self._script(
                keys=[self._prefix + workspace_id], args=[self._interval_ms, self._burst]
            )
        except REDIS_FAILURES as exc:
            # Skipped for a second after a failure, so requests do not each pay a timeout.
            self._health.failed(f"rate_limit_{self._name}", exc)
            return await self._fallback.acquire(workspace_id)
        return float(wait_ms) / 1000.0

    async def close(self) -> None:
        await self._redis.aclose()
