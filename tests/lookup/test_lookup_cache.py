"""The lookup cache seen from Salesforce: calls counted at the emulator."""

from __future__ import annotations

import asyncio

from app.workspace.budget import PROBE_AFTER_SECONDS
from tests.helpers.contact_app import ACME
from tests.helpers.lookups import lookup

EMAIL = "priya.raman@example.com"


async def test_thousand_concurrent_lookups_cost_one_query_then_ttl_applies(
    client, auth, connect, sf_emulator, clock
) -> None:
    await connect("ws-1")
    # Warm the describe so only lookups are counted below.
    await client.get("/v1/workspaces/ws-1/salesforce/fields", headers=auth("ws-1"))
    sf_emulator.reset_counters()

    responses = await asyncio.gather(*(lookup(client, auth, email=EMAIL) for _ in range(1000)))

    assert {r.status_code for r in responses} == {200}
    assert {r.json()["contact"]["fields"][0]["value"] for r in responses} == {"Priya Raman"}
    assert sum(not r.json()["cached"] for r in responses) >= 1
    assert sf_emulator.counters["query"] == 1

    for _ in range(50):
        assert (await lookup(client, auth, email=EMAIL)).json()["cached"] is True
    clock.advance(59)
    assert (await lookup(client, auth, email=EMAIL)).json()["cached"] is True
    assert sf_emulator.counters["query"] == 1

    clock.advance(2)  # past LOOKUP_CACHE_TTL_SECONDS (60)
    again = await asyncio.gather(*(lookup(client, auth, email=EMAIL) for _ in range(100)))
    assert {r.json()["contact"]["fields"][0]["value"] for r in again} == {"Priya Raman"}
    assert sf_emulator.counters["query"] == 2
    assert sf_emulator.counters["describe"] == 0


async def test_misses_are_cached_too(client, auth, connect, sf_emulator) -> None:
    await connect("ws-1")
    await lookup(client, auth, email="nobody@example.com")
    sf_emulator.reset_counters()
    for _ in range(5):
        assert (await lookup(client, auth, email="NOBODY@example.com")).json()["cached"] is True
    assert sf_emulator.counters["query"] == 0


async def test_stale_answer_when_rate_limited_or_unavailable(
    client, auth, connect, sf_emulator, clock
) -> None:
    await connect("ws-1")
    fresh = (await lookup(client, auth, email=EMAIL)).json()
    miss = (await lookup(client, auth, email="nobody@example.com")).json()
    clock.advance(120)

    for fault in ("server_unavailable", "request_limit_exceeded"):
        sf_emulator.set_fault(ACME, fault)
        clock.advance(60)  # past SALESFORCE_BREAKER_OPEN_SECONDS: each fault reaches Salesforce
        served = (await lookup(client, auth, email=EMAIL)).json()
        assert served["stale"] is True and served["cached"] is True
        assert served["contact"] == fresh["contact"]
        assert served["fetched_at"] == fresh["fetched_at"]
        stale_miss = (await lookup(client, auth, email="nobody@example.com")).json()
        assert stale_miss["stale"] is True and stale_miss["matched"] is False
        assert stale_miss["fetched_at"] == miss["fetched_at"]
        # Nothing kept for this email: the errors of docs/api.md.
        nothing_kept = await lookup(client, auth, email="ben.tan@example.com")
        if fault == "server_unavailable":
            assert nothing_kept.status_code == 502
            assert nothing_kept.json()["code"] == "salesforce_unavailable"
    limited = nothing_kept
    assert limited.status_code == 503
    assert limited.json()["code"] == "salesforce_rate_limited"
    # The daily allocation is spent: hours, derived from the allocation, not a constant.
    assert int(limited.headers["Retry-After"]) > 600

    # The org's allocation was spent: no call is made until its usage is measured again
    # (a probe once the measurement is old), then lookups go to Salesforce again.
    sf_emulator.set_fault(ACME, None)
    clock.advance(PROBE_AFTER_SECONDS)
    recovered = (await lookup(client, auth, email=EMAIL)).json()
    assert recovered["stale"] is False and recovered["cached"] is False


async def test_insufficient_access_is_mapped(client, auth, connect, sf_emulator) -> None:
    await connect("ws-1")
    await client.get("/v1/workspaces/ws-1/salesforce/fields", headers=auth("ws-1"))
    sf_emulator.set_fault(ACME, "api_disabled")
    response = await lookup(client, auth, email=EMAIL)
    assert response.status_code == 403
    assert response.json()["code"] == "salesforce_api_disabled"


async def test_an_edit_refreshes_cached_entries_at_once(
    client, auth, connect, sf_emulator, app
) -> None:
    await connect("ws-1")
    first = (await lookup(client, auth, email=EMAIL)).json()
    by_phone = (await lookup(client, auth, phone="+91 98765 43210")).json()
    contact_id = first["contact"]["id"]
    assert by_phone["contact"]["id"] == contact_id

    # What the edit feature will do after a successful PATCH.
    await app.state.services.caches.lookups.update_contact(
        "ws-1", {"Id": contact_id, "Title": "CEO"}
    )
    for params in ({"email": EMAIL}, {"phone": "+91 98765 43210"}):
        body = (await lookup(client, auth, **params)).json()
        assert body["cached"] is True
        assert {f["name"]: f["value"] for f in body["contact"]["fields"]}["Title"] == "CEO"

    # Another workspace's entries holding the same contact are not touched.
    await app.state.services.caches.lookups.invalidate_contact("ws-other", contact_id)
    assert (await lookup(client, auth, email=EMAIL)).json()["cached"] is True
    await app.state.services.caches.lookups.invalidate_contact("ws-1", contact_id)
    assert (await lookup(client, auth, email=EMAIL)).json()["cached"] is False
