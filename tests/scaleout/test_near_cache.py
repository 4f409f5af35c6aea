"""The near cache in front of Redis (app.workspace.near_cache): a replica serves answers it
read recently from memory, drops them when any replica changes them, and never serves one
longer than LOOKUP_NEAR_CACHE_TTL_SECONDS after a change whose message was lost."""

from __future__ import annotations

from typing import Any

from tests.helpers.clock import FakeClock
from tests.helpers.replicas import (
    ANA,
    ANA_EMAIL,
    PRIYA_EMAIL,
    Replica,
    StartReplica,
    delivered_to,
    field,
    lookup,
    put_settings,
)


def near(replica: Replica) -> Any:
    return replica.app.state.services.caches.lookups


async def _edit_title(replica: Replica, auth: Any, title: str) -> None:
    edited = await replica.client.patch(
        f"/v1/workspaces/ws-1/salesforce/contacts/{ANA}",
        json={"fields": {"Title": title}},
        headers=auth("ws-1", "agent"),
    )
    assert edited.status_code == 200, edited.text


async def test_the_near_cache_drops_an_entry_when_another_replica_edits_it(
    replicas: tuple[Replica, Replica], connect: Any, auth: Any, sf_emulator: Any
) -> None:
    a, b = replicas
    await connect(a, "ws-1")
    await put_settings(a, auth)
    await lookup(a, auth, email=ANA_EMAIL)
    await lookup(b, auth, email=PRIYA_EMAIL)
    held = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert field(held, "Title")["value"] == "Head of Operations"
    assert near(b).size == 2  # Ana's answer and Priya's, read from Redis once each

    async with delivered_to(b):
        await _edit_title(a, auth, "Chief Cache Officer")

    assert near(b).size == 1  # Ana's answer went; Priya's stays
    sf_emulator.reset_counters()
    after = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert after["cached"] is True
    assert field(after, "Title")["value"] == "Chief Cache Officer"
    assert sf_emulator.counters["query"] == 0


async def test_the_replica_that_edits_shows_the_edit_at_once(
    replicas: tuple[Replica, Replica], connect: Any, auth: Any
) -> None:
    a, b = replicas
    await connect(a, "ws-1")
    await put_settings(a, auth)
    await lookup(b, auth, email=ANA_EMAIL)
    for replica, title in ((a, "Chief Cache Officer"), (b, "Head of Caching")):
        held = (await lookup(replica, auth, email=ANA_EMAIL)).json()
        assert held["cached"] is True
        await _edit_title(replica, auth, title)
        # No wait for any message: the replica that wrote dropped its own copy first.
        shown = (await lookup(replica, auth, email=ANA_EMAIL)).json()
        assert field(shown, "Title")["value"] == title


async def test_a_lost_invalidation_keeps_a_stale_answer_at_most_the_near_ttl(
    start_replica: StartReplica, connect: Any, auth: Any
) -> None:
    a = await start_replica()
    clock = FakeClock()
    b = await start_replica(clock=clock, lookup_near_cache_ttl_seconds=1.5)
    await connect(a, "ws-1")
    await put_settings(a, auth)
    before = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert field(before, "Title")["value"] == "Head of Operations"

    # A change written to Redis whose message never reaches B: written through A's shared
    # cache directly, which announces nothing (as if the message were lost).
    await near(a).shared.update_contact("ws-1", {"Id": ANA, "Title": "Chief Cache Officer"})

    clock.advance(1.4)
    still = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert field(still, "Title")["value"] == "Head of Operations"
    clock.advance(0.1)  # the near cache's TTL: never served past it
    after = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert after["cached"] is True
    assert field(after, "Title")["value"] == "Chief Cache Officer"


async def test_without_the_bus_the_near_cache_keeps_nothing(
    start_replica: StartReplica, connect: Any, auth: Any
) -> None:
    a = await start_replica()
    await connect(a, "ws-1")
    await a.app.state.services.bus.stop()  # the subscription is gone: changes may be missed
    for _ in range(3):
        assert (await lookup(a, auth, email=ANA_EMAIL)).json()["matched"] is True
    assert near(a).size == 0
