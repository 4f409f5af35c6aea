"""Time the test moves by hand: expiry, pacing and deadlines without sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import Settings


class FakeClock:
    """A monotonic clock the test moves by hand; `sleep` (an asyncio.sleep stand-in) returns
    once the test has advanced the clock past its deadline."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, waiter in list(self._sleepers):
            if deadline <= self.now and not waiter.done():
                waiter.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for the clock to move."""
        return sum(1 for _, waiter in self._sleepers if not waiter.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        entry = (self.now + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)


class FakeNow:
    """The wall clock (`app.kit.clocks.Now`) the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.value = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **delta: float) -> None:
        self.value += timedelta(**delta)


@asynccontextmanager
async def app_with_wall_clock(settings: Settings, now: FakeNow) -> AsyncIterator[Any]:
    """The app started with a fake wall clock (refresh times, verified caller tokens); its
    tables are emptied when it stops."""
    from app.main import create_app
    from tests.helpers.database import truncate_all

    application = create_app(settings, now=now)
    async with application.router.lifespan_context(application):
        yield application
    await truncate_all(settings.async_database_url)
