"""A circuit breaker per key (an org): after repeated failures, fail fast for a while, then
let one probe through. Time is injected (app.kit.clocks), so tests drive it by hand.

Why not a library: `aiobreaker` has had no release since 2021, `pybreaker` is built around
synchronous calls, and `purgatory` reads the wall clock itself (no clock to inject); none
keeps state per key without one breaker object per org. This is ~60 lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.kit.clocks import Clock, monotonic


@dataclass(slots=True)
class _State:
    failures: int = 0
    last_failure: float = 0.0
    open_until: float | None = None
    probing: bool = False


class CircuitBreaker:
    """`allow(key)` before a call: None to go ahead, else the seconds until the next probe.
    Then `succeeded(key)` or `failed(key)` (only failures that say the far side is down:
    timeouts, network errors, 5xx; a refusal is an answer, not a failure).

    Closed: `failures` failures, each within `window` seconds of the previous one, open it.
    Open: every call fails fast for `open_seconds`. Then half-open: one call (the probe) goes
    through while the others keep failing fast; its success closes, its failure reopens."""

    def __init__(
        self,
        *,
        failures: int = 3,
        window: float = 30.0,
        open_seconds: float = 15.0,
        clock: Clock = monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self._threshold = max(1, failures)
        self._window = window
        self._open_seconds = open_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._states: dict[str, _State] = {}

    def allow(self, key: str) -> float | None:
        state = self._states.get(key)
        if state is None or state.open_until is None:
            return None
        now = self._clock()
        if now < state.open_until:
            return state.open_until - now
        if state.probing:
            return self._open_seconds
        state.probing = True  # half-open: this caller is the probe
        return None

    def succeeded(self, key: str) -> None:
        self._states.pop(key, None)

    def failed(self, key: str) -> None:
        now = self._clock()
        state = self._states.get(key)
        if state is None:
            if len(self._states) >= self._max_keys:
                self._states.clear()
            state = self._states[key] = _State()
        if state.failures and now - state.last_failure > self._window:
            state.failures = 0
        state.failures += 1
        state.last_failure = now
        if state.probing or state.failures >= self._threshold:
            state.open_until = now + self._open_seconds
            state.probing = False

    def is_open(self, key: str) -> bool:
        state = self._states.get(key)
        return state is not None and state.open_until is not None
