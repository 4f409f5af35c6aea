"""Redis unavailable: lookups keep answering (from Salesforce, then the process's own cache),
never fail because of the cache."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from tests.helpers.faultproxy import FaultProxy
from tests.helpers.replicas import ANA_EMAIL, StartReplica, lookup


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_lookups_answer_from_the_process_cache_when_redis_never_answered(
    start_replica: StartReplica, connect: Any, auth: Any, sf_emulator: Any, capfd: Any
) -> None:
    replica = await start_replica(cache_url=f"redis://127.0.0.1:{closed_port()}/0")
    await connect(replica, "ws-1")
    sf_emulator.reset_counters()

    answers = [await lookup(replica, auth, email=ANA_EMAIL) for _ in range(5)]

    assert {r.status_code for r in answers} == {200}
    assert {r.json()["contact"]["id"] for r in answers} == {answers[0].json()["contact"]["id"]}
    # No Redis: the process's own cache answers after the first call to Salesforce.
    assert [r.json()["cached"] for r in answers] == [False, True, True, True, True]
    assert sf_emulator.counters["query"] == 1
    # Logged, but not once per request.
    logged = [
        line for line in capfd.readouterr().err.splitlines() if "cache.redis.unavailable" in line
    ]
    assert 1 <= len([line for line in logged if '"app.contacts.cache"' in line]) <= 2


async def test_lookups_keep_answering_when_redis_goes_away(
    replica_behind_proxy: StartReplica, auth: Any, redis_proxy: FaultProxy
) -> None:
    proxy = redis_proxy
    replica = await replica_behind_proxy()
    assert (await lookup(replica, auth, email=ANA_EMAIL)).json()["cached"] is False
    assert (await lookup(replica, auth, email=ANA_EMAIL)).json()["cached"] is True

    await proxy.cut()
    answers = await asyncio.gather(*(lookup(replica, auth, email=ANA_EMAIL) for _ in range(20)))

    assert {r.status_code for r in answers} == {200}
    assert {r.json()["matched"] for r in answers} == {True}
    later = await lookup(replica, auth, email="nobody@example.com")
    assert later.status_code == 200 and later.json()["matched"] is False
