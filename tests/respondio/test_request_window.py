"""RequestWindow, the per-workspace pacing of respond.io calls, on the real clock."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.respondio.client import RequestWindow


def most_in_window(times: list[float], window: float = 1.0) -> int:
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def send_times(
    window: RequestWindow, n: int, *, stall_at: float | None = None
) -> list[float]:
    """When each of n requests, all waiting from the start, went through the window; the
    event loop blocks for 0.2 s at `stall_at` seconds (a busy worker waking waiters late)."""

    async def send() -> float:
        async with window:
            return time.monotonic()

    async def stall() -> None:
        assert stall_at is not None
        await asyncio.sleep(stall_at)
        time.sleep(0.2)  # noqa: ASYNC251 - blocking the loop is the point

    staller = asyncio.create_task(stall()) if stall_at is not None else None
    times = await asyncio.gather(*(send() for _ in range(n)))
    if staller is not None:
        await staller
    return sorted(times)


def test_limit_and_period_follow_the_rate() -> None:
    assert (RequestWindow(200).limit, RequestWindow(200).period) == (200, 1.0)
    assert (RequestWindow(2.5).limit, RequestWindow(2.5).period) == (2, 1.0)
    assert (RequestWindow(0.5).limit, RequestWindow(0.5).period) == (1, 2.0)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            RequestWindow(bad)


async def test_requests_are_paced_not_bunched() -> None:
    times = await send_times(RequestWindow(20), 25)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # A waiter woken late lets the next one catch up, so a gap can be a little short.
    assert sorted(gaps)[len(gaps) // 2] == pytest.approx(0.05, abs=0.005)
    assert min(gaps) > 0.02
    assert most_in_window(times) <= 20
    assert times[-1] - times[0] == pytest.approx(24 * 0.05, abs=0.05)


async def test_a_late_wake_up_is_made_up_without_breaking_the_window() -> None:
    # 150 requests at 100/s take 1.49 s; a 0.2 s stall of the loop at 0.2 s is caught up
    # (a bucket of one refilled every 10 ms would take 1.69 s), and still never more than
    # 100 requests leave in any one second.
    times = await send_times(RequestWindow(100), 150, stall_at=0.2)
    assert times[-1] - times[0] < 1.6
    assert most_in_window(times) <= 100


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    window = RequestWindow(1)
    await window.acquire()
    waiter = asyncio.create_task(window.acquire())
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not window.has_capacity()
    await asyncio.sleep(1.0)
    assert window.has_capacity()
