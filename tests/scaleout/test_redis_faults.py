"""Redis that accepts connections but never answers, and Redis cut then back (contract 10.11,
"Faults and limits"): every Redis operation is bounded by CACHE_TIMEOUT_SECONDS and a request
spends at most that on Redis in total; while Redis is away lookups are cached in the process;
the shared cache is used again within 30 s of Redis returning."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
import redis.asyncio

from tests.helpers.faultproxy import FaultProxy
from tests.helpers.replicas import ANA_EMAIL, StartReplica, lookup, put_settings
from tests.helpers.routes import call_route, operations

# A Redis timeout large enough that a request paying it several times (no total bound) cannot
# hide in scheduling noise, and a generous bound on "answered" for one that pays it once.
CACHE_TIMEOUT = 1.5
ANSWERED_WITHIN = CACHE_TIMEOUT + 3.0
SHARED_AGAIN_WITHIN = 30.0
ROUTES_ANSWERED_WITHIN = 60.0  # every route, one after another: generous


async def test_a_redis_that_never_answers_costs_a_request_one_timeout_at_most(
    replica_behind_proxy: StartReplica, auth: Any, redis_proxy: FaultProxy
) -> None:
    replica = await replica_behind_proxy(cache_timeout_seconds=CACHE_TIMEOUT)
    await put_settings(replica, auth, record_creation_enabled=True, editing_enabled=True)
    assert (await lookup(replica, auth, email=ANA_EMAIL)).status_code == 200

    await redis_proxy.blackhole()
    for step in range(2):  # the first meets the blackhole; the second must not pay it again
        async with asyncio.timeout(ANSWERED_WITHIN):
            created = await replica.client.post(
                "/v1/workspaces/ws-1/salesforce/contacts",
                json={"fields": {"LastName": f"Blackhole{step}", "Email": f"b{step}@example.com"}},
                headers=auth("ws-1", "agent"),
            )
        assert created.status_code == 201, created.text
        async with asyncio.timeout(ANSWERED_WITHIN):
            missed = await lookup(replica, auth, email=f"nobody{step}@example.com")
        assert missed.status_code == 200, missed.text


async def test_while_redis_is_away_lookups_are_cached_in_the_process(
    replica_behind_proxy: StartReplica, auth: Any, sf_emulator: Any, redis_proxy: FaultProxy
) -> None:
    replica = await replica_behind_proxy(lookup_near_cache_ttl_seconds=0)
    await redis_proxy.cut()
    sf_emulator.reset_counters()

    answers = [await lookup(replica, auth, email=ANA_EMAIL) for _ in range(5)]

    assert {r.status_code for r in answers} == {200}
    assert [r.json()["cached"] for r in answers] == [False, True, True, True, True]
    assert sf_emulator.counters["query"] == 1


async def test_the_shared_cache_is_used_again_once_redis_is_back(
    replica_behind_proxy: StartReplica,
    auth: Any,
    redis_url: str,
    key_prefix: str,
    redis_proxy: FaultProxy,
) -> None:
    replica = await replica_behind_proxy(lookup_near_cache_ttl_seconds=0)
    await redis_proxy.cut()
    assert (await lookup(replica, auth, email="during@example.com")).status_code == 200
    await redis_proxy.restore()

    direct = redis.asyncio.Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(SHARED_AGAIN_WITHIN):
            for n in itertools.count():
                # A lookup never made before: answered from Salesforce, then stored in Redis
                # once the replica uses the shared cache again.
                answer = await lookup(replica, auth, email=f"after{n}@example.com")
                assert answer.status_code == 200
                stored = [k async for k in direct.scan_iter(match=f"{key_prefix}*:e:*")]
                if stored:
                    break
                await asyncio.sleep(0.5)
    finally:
        await direct.aclose()


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
async def test_every_route_answers_through_a_redis_fault_and_recovers(
    replica_behind_proxy: StartReplica, auth: Any, redis_proxy: FaultProxy, fault: str
) -> None:
    """Redis is optional: with it cut or blackholed while requests run, every route answers
    as it did before (no 5xx, no hang), and again after the restore, without a restart."""
    replica = await replica_behind_proxy()
    await put_settings(replica, auth, record_creation_enabled=True, editing_enabled=True)
    ops = operations(replica.app)
    before = {op: (await call_route(replica.client, auth, *op)).status_code for op in ops}
    assert all(status < 500 for status in before.values()), before

    in_flight = [asyncio.ensure_future(call_route(replica.client, auth, *op)) for op in ops]
    await asyncio.sleep(0)
    await getattr(redis_proxy, fault)()
    async with asyncio.timeout(ROUTES_ANSWERED_WITHIN):
        during = await asyncio.gather(*in_flight)
        during += [await call_route(replica.client, auth, *op) for op in ops]
    for op, response in zip(ops + ops, during, strict=True):
        assert response.status_code < 500, (op, response.status_code, response.text[:300])

    await redis_proxy.restore()
    async with asyncio.timeout(ROUTES_ANSWERED_WITHIN):
        after = {op: (await call_route(replica.client, auth, *op)).status_code for op in ops}
    assert {op: s for op, s in after.items() if s >= 500} == {}
