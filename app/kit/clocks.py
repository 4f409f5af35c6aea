"""Clocks, injected wherever code waits or expires so tests can drive time by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# Seconds on a monotonic scale (cache expiry, pacing, deadlines).
Clock = Callable[[], float]
# The wall-clock moment, timezone-aware (timestamps written to rows and answers).
Now = Callable[[], datetime]

monotonic: Clock = time.monotonic


def utc_now() -> datetime:
    return datetime.now(UTC)


def wall_clock_following(clock: Clock) -> Now:
    """A wall clock that moves with `clock`: the real time when `clock` is the real monotonic
    clock, and time a test moves by hand when it is a fake one (rows stamped with it expire
    when the test advances its clock)."""
    if clock is monotonic:
        return utc_now
    start_wall, start = utc_now(), clock()
    return lambda: start_wall + timedelta(seconds=clock() - start)
