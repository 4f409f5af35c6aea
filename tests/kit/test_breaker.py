"""The circuit breaker on a fake clock (app.kit.breaker)."""

from __future__ import annotations

from app.kit.breaker import CircuitBreaker
from tests.helpers.clock import FakeClock


def test_opens_after_repeated_failures_then_probes_once() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=3, window=30, open_seconds=15, clock=clock)
    for _ in range(2):
        assert breaker.allow("org") is None
        breaker.failed("org")
    assert breaker.allow("org") is None
    breaker.failed("org")

    assert breaker.allow("org") == 15
    assert breaker.allow("other-org") is None  # per key
    clock.advance(10)
    assert breaker.allow("org") == 5

    clock.advance(5)
    assert breaker.allow("org") is None  # the probe
    assert breaker.allow("org") == 15  # everyone else still fails fast
    breaker.failed("org")  # the probe failed: open again
    assert breaker.allow("org") == 15

    clock.advance(15)
    assert breaker.allow("org") is None
    breaker.succeeded("org")
    assert breaker.allow("org") is None
    assert not breaker.is_open("org")


def test_failures_far_apart_do_not_open_it() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=3, window=30, open_seconds=15, clock=clock)
    for _ in range(5):
        breaker.failed("org")
        clock.advance(31)
    assert breaker.allow("org") is None


def test_a_success_forgets_earlier_failures() -> None:
    breaker = CircuitBreaker(failures=2, clock=FakeClock())
    breaker.failed("org")
    breaker.succeeded("org")
    breaker.failed("org")
    assert breaker.allow("org") is None
