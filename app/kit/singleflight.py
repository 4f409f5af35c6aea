"""One shared load per key: concurrent callers of a key await the same task.

Used by every cache that calls out on a miss (workspace snapshots, the Contact describe,
lookup answers in process and in Redis) and by the token refresh, so a burst of callers
costs one database read, one Salesforce call or one refresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

from app.kit.clocks import Clock, monotonic

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """The tasks in flight, one per key; a finished task leaves on its own."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[V]] = {}

    def task(self, key: K, start: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        """The key's task in flight, or a new one running `start()`."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(start())
            self._tasks[key] = task
            task.add_done_callback(partial(self._finished, key))
        return task

    async def run(self, key: K, start: Callable[[], Awaitable[V]]) -> V:
        # shield: a caller that goes away does not cancel the others' shared load.
        return await asyncio.shield(self.task(key, start))

    def owns(self, key: K, task: asyncio.Task[Any] | None) -> bool:
        """Whether `task` is still the key's load (not forgotten by a purge meanwhile)."""
        return task is not None and self._tasks.get(key) is task

    def forget(self, key: K) -> None:
        """Later callers start a new load; the old one finishes for its own callers only."""
        self._tasks.pop(key, None)

    def forget_where(self, predicate: Callable[[K], bool]) -> None:
        for key in [k for k in self._tasks if predicate(k)]:
            del self._tasks[key]

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled():
            task.exception()  # retrieved here so a load nobody awaited any more is not logged


class TTLSingleFlight(Generic[K, V]):
    """A small TTL cache with one shared load per key; a load that started before an
    `invalidate` of its key stores nothing."""

    def __init__(self, *, ttl_seconds: float, max_entries: int, clock: Clock = monotonic) -> None:
        self._values: TTLCache[K, V] = TTLCache(maxsize=max_entries, ttl=ttl_seconds, timer=clock)
        self._flights: SingleFlight[K, V] = SingleFlight()
        self._generation: dict[K, int] = {}

    def peek(self, key: K) -> V | None:
        return self._values.get(key)

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        value = self._values.get(key)
        if value is not None:
            return value
        generation = self._generation.get(key, 0)
        return await self._flights.run(key, partial(self._load, key, load, generation))

    def invalidate(self, key: K) -> None:
        self._generation[key] = self._generation.get(key, 0) + 1
        self._values.pop(key, None)
        self._flights.forget(key)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]], generation: int) -> V:
        value = await load()
        if self._generation.get(key, 0) == generation and value is not None:
            self._values[key] = value
        return value
