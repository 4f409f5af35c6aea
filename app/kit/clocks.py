"""Clocks, injected wherever code waits or expires so tests can drive time by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

# Seconds on a monotonic scale (cache expiry, pacing, deadlines).
Clock = Callable[[], float]
# The wall-clock moment, timezone-aware (timestamps written to rows and answers).
Now = Callable[[], datetime]

monotonic: Clock = time.monotonic


def utc_now() -> datetime:
    return datetime.now(UTC)
