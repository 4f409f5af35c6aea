"""The org's API allocation seen from a lookup: stale answers then 503 above the foreground
threshold, the per-workspace miss limit, and the usage shown on the connection."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.config import Settings
from app.workspace.budget import PROBE_AFTER_SECONDS, retry_after_seconds
from tests.helpers.contact_app import ACME
from tests.helpers.lookups import lookup

EMAIL = "priya.raman@example.com"
LIMIT = 15_000


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    return sf_settings.model_copy(
        update={"lookup_miss_rate_per_workspace": 1.0, "lookup_miss_burst_per_workspace": 3}
    )


async def set_usage(sf_emulator: Any, used: int, limit: int = LIMIT) -> None:
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as control:
        answer = await control.patch(
            f"/__emulator/orgs/{ACME}", json={"api_usage": used, "api_max": limit}
        )
        answer.raise_for_status()


async def test_above_the_foreground_threshold_stale_then_503_then_back(
    client, auth, connect, sf_emulator, clock
) -> None:
    await connect("ws-1")
    fresh = (await lookup(client, auth, email=EMAIL)).json()
    await set_usage(sf_emulator, 14_400)  # 96%, above SALESFORCE_API_FOREGROUND_MAX_USAGE
    # The next call measures it (the emulator counts that call too).
    assert (await lookup(client, auth, email="nobody@example.com")).status_code == 200
    clock.advance(120)  # every cached answer is past its TTL
    sf_emulator.reset_counters()

    served = (await lookup(client, auth, email=EMAIL)).json()
    assert served["stale"] is True and served["contact"] == fresh["contact"]
    refused = await lookup(client, auth, email="ben.tan@example.com")
    assert refused.status_code == 503
    assert refused.json()["code"] == "salesforce_rate_limited"
    # Derived from the allocation: the rolling day frees 14,401/86,400 calls a second.
    assert int(refused.headers["Retry-After"]) == retry_after_seconds(14_401, LIMIT, 0.95)
    assert sf_emulator.counters["api"] == 0  # not one call spent

    # The org's other tools stopped; once the measurement is old one call probes it again.
    await set_usage(sf_emulator, 9_000)
    clock.advance(PROBE_AFTER_SECONDS)
    back = (await lookup(client, auth, email="ben.tan@example.com")).json()
    assert back["matched"] is True and back["stale"] is False
    assert (await lookup(client, auth, email=EMAIL)).json()["stale"] is False


async def test_a_flooding_workspace_gets_429_and_spares_the_other(
    client, auth, connect, sf_emulator, clock
) -> None:
    await connect("ws-flood")
    await connect("ws-calm")
    emails = [f"flood{i}@example.com" for i in range(6)]
    answers = [await lookup(client, auth, ws="ws-flood", email=e) for e in emails]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
    assert answers[3].json()["code"] == "too_many_requests"
    assert answers[3].headers["Retry-After"] == "1"

    # The other workspace's misses are untouched, and cached answers are never limited.
    calm = [await lookup(client, auth, ws="ws-calm", email=e) for e in emails[:3]]
    assert [a.status_code for a in calm] == [200, 200, 200]
    assert (await lookup(client, auth, ws="ws-flood", email=emails[0])).json()["cached"] is True

    clock.advance(1.0)
    assert (await lookup(client, auth, ws="ws-flood", email=emails[3])).status_code == 200


async def test_connection_shows_the_orgs_usage_and_the_workspaces_calls(
    client, auth, connect, sf_emulator
) -> None:
    await connect("ws-1")
    before = (
        await client.get("/v1/workspaces/ws-1/salesforce/connection", headers=auth("ws-1"))
    ).json()
    assert before["api_usage"] is None  # nothing measured yet
    await set_usage(sf_emulator, 1_234)
    await lookup(client, auth, email=EMAIL)
    await lookup(client, auth, email=EMAIL)  # cached: no call

    usage = (
        await client.get("/v1/workspaces/ws-1/salesforce/connection", headers=auth("ws-1"))
    ).json()["api_usage"]
    assert usage["used"] == sf_emulator.org(ACME).api_usage and usage["limit"] == LIMIT
    assert usage["measured_at"]
    assert usage["by_purpose_today"] == {
        "lookup": 1,
        "edit": 0,
        "create": 0,
        "activity": 0,
        "autocreate": 0,
        "token": 0,
        "describe": 1,
    }
