"""The emulator's clock: real time plus an offset that tests move forward (or set).

Everything time-dependent in the emulated org reads it: record audit dates, code,
session and refresh-token lifetimes, the search index's lag."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()

    def now(self) -> datetime:
        """Now, at Salesforce's whole-second resolution."""
        return (datetime.now(UTC) + self._offset).replace(microsecond=0)

    def time(self) -> float:
        """Now as epoch seconds (token lifetimes)."""
        return time.time() + self._offset.total_seconds()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (it keeps ticking from there)."""
        with self._lock:
            self._offset = moment.astimezone(UTC) - datetime.now(UTC)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)
