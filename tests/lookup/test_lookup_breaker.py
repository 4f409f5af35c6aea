"""A Salesforce org that hangs: after repeated timeouts the lookups of that org fail fast
(or answer stale) for a while with Retry-After, then one probe tries again. Refusals (4xx)
never open the breaker. The breaker's time is the test's fake clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.helpers.clock import FakeClock
from tests.helpers.contact_app import ACME, GLOBEX, Connect
from tests.helpers.lookups import lookup

TIMEOUT = 0.2
OPEN_SECONDS = 15.0


@pytest.fixture
def settings(make_settings: Any, sf_emulator: Any) -> Settings:
    host = sf_emulator.base_url.split("://", 1)[1]
    return make_settings(
        salesforce_login_url=sf_emulator.base_url,
        salesforce_sandbox_login_url=sf_emulator.base_url,
        salesforce_extra_allowed_hosts=host,
        salesforce_timeout_seconds=TIMEOUT,
        salesforce_breaker_failures=3,
        salesforce_breaker_open_seconds=OPEN_SECONDS,
    )


class SentToSalesforce:
    """At the HTTP boundary: the REST requests the service sends."""

    def __init__(self, app: Any) -> None:
        self.paths: list[str] = []
        self._http: httpx.AsyncClient = app.state.services.http
        self._http.event_hooks["request"].append(self._hook)

    async def _hook(self, request: httpx.Request) -> None:
        if "/services/data/" in request.url.path:
            self.paths.append(request.url.path)

    def close(self) -> None:
        self._http.event_hooks["request"].remove(self._hook)


@pytest.fixture
def sent(app: Any) -> Any:
    counter = SentToSalesforce(app)
    yield counter
    counter.close()


async def test_a_hanging_org_fails_fast_then_probes_again(
    client: Any, auth: Any, connect: Connect, sf_emulator: Any, clock: FakeClock, sent: Any
) -> None:
    await connect("ws-1", ACME)
    await connect("ws-2", GLOBEX)
    warm = await lookup(client, auth, email="ana.souza@example.com")
    assert warm.status_code == 200
    assert (await lookup(client, auth, ws="ws-2", email="nobody@example.com")).status_code == 200
    clock.advance(120)  # Ana's answer is now stale, kept for when Salesforce fails

    sf_emulator.latency_ms = int(TIMEOUT * 1000 * 5)  # Salesforce hangs past our timeout
    for n in range(3):
        timed_out = await lookup(client, auth, email=f"missing{n}@example.com")
        assert timed_out.status_code == 502, timed_out.text
        assert timed_out.json()["code"] == "salesforce_unavailable"

    calls = len(sent.paths)
    fast = await lookup(client, auth, email="someone@example.com")
    assert fast.status_code == 502
    assert fast.json()["code"] == "salesforce_unavailable"
    assert 0 < int(fast.headers["retry-after"]) <= OPEN_SECONDS
    stale = await lookup(client, auth, email="ana.souza@example.com")
    assert stale.status_code == 200
    assert stale.json()["stale"] is True
    assert len(sent.paths) == calls  # nothing was sent while the breaker is open

    sf_emulator.latency_ms = 0
    # Another org is not affected.
    other = await lookup(client, auth, ws="ws-2", email="someone@example.com")
    assert other.status_code == 200
    calls = len(sent.paths)

    clock.advance(OPEN_SECONDS)
    probe = await lookup(client, auth, email="someone@example.com")
    assert probe.status_code == 200, probe.text
    assert len(sent.paths) > calls
    after = await lookup(client, auth, email="ana.souza@example.com")
    assert after.status_code == 200
    assert after.json()["stale"] is False


async def test_refusals_do_not_open_the_breaker(
    client: Any, auth: Any, connect: Connect, sf_emulator: Any, sent: Any
) -> None:
    await connect("ws-1", ACME)
    assert (await lookup(client, auth, email="warm@example.com")).status_code == 200
    sf_emulator.set_fault(ACME, "api_disabled", 5)
    for n in range(5):
        refused = await lookup(client, auth, email=f"refused{n}@example.com")
        assert refused.status_code == 403, refused.text
    calls = len(sent.paths)
    answered = await lookup(client, auth, email="after@example.com")
    assert answered.status_code == 200, answered.text
    assert len(sent.paths) > calls
