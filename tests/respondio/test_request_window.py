"""RequestWindow, the per-workspace pacing of respond.io calls, on a simulated clock whose
sleeps can wake up late (as a busy event loop does)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from app.respondio.client import RequestWindow
from tests.helpers.clock import FakeClock


class LateClock:
    """time.monotonic and asyncio.sleep stand-ins: sleep(d) moves the clock by d plus the
    lateness `late(n)` of the n-th sleep."""

    def __init__(self, late: Callable[[int], float] = lambda n: 0.0) -> None:
        self.now = 0.0
        self.sleeps = 0
        self._late = late

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self._late(self.sleeps)
        self.sleeps += 1
        await asyncio.sleep(0)


def window(rate: float, clock: LateClock) -> RequestWindow:
    return RequestWindow(rate, clock=clock, sleep=clock.sleep)


async def send_times(limiter: RequestWindow, clock: LateClock, n: int) -> list[float]:
    """When each of n requests, all waiting from the start, went through."""

    async def send() -> float:
        async with limiter:
            return clock()

    return list(await asyncio.gather(*(send() for _ in range(n))))


def most_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_limit_and_period_follow_the_rate() -> None:
    assert (RequestWindow(200).limit, RequestWindow(200).period) == (200, 1.0)
    assert (RequestWindow(2.5).limit, RequestWindow(2.5).period) == (2, 1.0)
    assert (RequestWindow(0.5).limit, RequestWindow(0.5).period) == (1, 2.0)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            RequestWindow(bad)


async def test_requests_are_paced_not_bunched() -> None:
    clock = LateClock()
    times = await send_times(window(20, clock), clock, 25)
    assert times == pytest.approx([i * 0.05 for i in range(25)])
    assert most_in_window(times) == 20


async def test_a_late_wake_up_is_made_up_without_breaking_the_window() -> None:
    # 150 requests at 100/s take 1.49 s. One wake-up 0.2 s late is caught up (a bucket of
    # one refilled every 10 ms would take 1.69 s), and never more than 100 go in a second.
    clock = LateClock(lambda n: 0.2 if n == 20 else 0.0)
    times = await send_times(window(100, clock), clock, 150)
    assert times[-1] == pytest.approx(1.49)
    assert most_in_window(times) == 100


async def test_every_wake_up_a_little_late_costs_almost_nothing() -> None:
    # Each wake-up 1 ms late at 200/s: the old bucket of one lost 20% of the rate
    # (6 ms a request); here 400 requests take 1.995 s plus about one lateness per second.
    clock = LateClock(lambda n: 0.001)
    times = await send_times(window(200, clock), clock, 400)
    assert times[-1] == pytest.approx(1.995, abs=0.005)
    assert most_in_window(times) == 200


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    clock = FakeClock()
    limiter = RequestWindow(1, clock=clock, sleep=clock.sleep)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    while not clock.sleepers:  # the waiter is waiting for its slot
        await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not limiter.has_capacity()
    clock.advance(1.0)
    assert limiter.has_capacity()
