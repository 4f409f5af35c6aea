"""Time the test moves by hand: expiry, pacing and deadlines without sleeping."""

from __future__ import annotations


class FakeClock:
    """A monotonic clock the test moves by hand: cache expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
