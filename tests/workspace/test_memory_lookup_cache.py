"""MemoryLookupCache on its own: single-flight, expiry, stale serving, purges."""

from __future__ import annotations

import asyncio

import pytest

from app.workspace.lookup_cache import LookupEntry, MemoryLookupCache
from tests.helpers.cache_entries import entry, key
from tests.helpers.clock import FakeClock


class Limited(Exception):
    pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> MemoryLookupCache:
    return MemoryLookupCache(ttl_seconds=60, max_entries=100, stale_seconds=3600, clock=clock)


async def test_concurrent_misses_share_one_load(cache: MemoryLookupCache) -> None:
    calls = 0
    release = asyncio.Event()

    async def load() -> LookupEntry:
        nonlocal calls
        calls += 1
        await release.wait()
        return entry()

    waiters = [asyncio.ensure_future(cache.fetch(key(), load)) for _ in range(100)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters)
    assert calls == 1
    assert all(r.entry == results[0].entry and not r.cached for r in results)
    assert (await cache.fetch(key(), load)).cached is True
    assert calls == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_load(
    cache: MemoryLookupCache,
) -> None:
    release = asyncio.Event()

    async def load() -> LookupEntry:
        await release.wait()
        return entry()

    first = asyncio.ensure_future(cache.fetch(key(), load))
    second = asyncio.ensure_future(cache.fetch(key(), load))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert (await second).entry.contact_id == "003A"
    assert await cache.get(key()) is not None


async def test_expiry_and_stale_serving(cache: MemoryLookupCache, clock: FakeClock) -> None:
    async def ok() -> LookupEntry:
        return entry()

    async def limited() -> LookupEntry:
        raise Limited()

    async def broken() -> LookupEntry:
        raise ValueError("a bug")

    await cache.fetch(key(), ok)
    clock.advance(61)
    assert await cache.get(key()) is None
    stale = await cache.fetch(key(), limited, stale_on=(Limited,))
    assert stale.stale and stale.cached and stale.entry.contact_id == "003A"
    with pytest.raises(ValueError):
        await cache.fetch(key(), broken, stale_on=(Limited,))
    with pytest.raises(Limited):
        await cache.fetch(key(value="other"), limited, stale_on=(Limited,))
    clock.advance(3600)
    with pytest.raises(Limited):
        await cache.fetch(key(), limited, stale_on=(Limited,))


async def test_keys_are_per_workspace_and_connection(cache: MemoryLookupCache) -> None:
    async def ok() -> LookupEntry:
        return entry()

    await cache.fetch(key(), ok)
    assert await cache.get(key(ws="ws-2")) is None
    assert await cache.get(key(connection="c2")) is None


async def test_purge_forgets_the_workspace_and_drops_loads_in_flight(
    cache: MemoryLookupCache,
) -> None:
    release = asyncio.Event()

    async def slow() -> LookupEntry:
        await release.wait()
        return entry()

    async def ok() -> LookupEntry:
        return entry()

    await cache.fetch(key(ws="ws-2"), ok)
    await cache.fetch(key(value="kept@example.com"), ok)
    pending = asyncio.ensure_future(cache.fetch(key(), slow))
    await asyncio.sleep(0)
    await cache.purge_workspace("ws-1")
    release.set()
    await pending
    assert await cache.get(key()) is None  # the load began before the purge: not stored
    assert await cache.get(key(value="kept@example.com")) is None
    assert await cache.get(key(ws="ws-2")) is not None


async def test_update_and_invalidate_by_contact(cache: MemoryLookupCache) -> None:
    await cache.set(key(), entry())
    await cache.set(key(value="+6012"), entry())
    await cache.set(key(value="miss@example.com"), entry(None))
    await cache.set(key(ws="ws-2"), entry())

    await cache.update_contact("ws-1", {"Id": "003A", "Title": "CEO", "Secret__c": "x"})
    for value in ("ana@example.com", "+6012"):
        held = await cache.get(key(value=value))
        assert held is not None and held.record == {"Id": "003A", "Title": "CEO"}
    other = await cache.get(key(ws="ws-2"))
    assert other is not None and other.record == {"Id": "003A", "Title": "CTO"}

    await cache.invalidate_contact("ws-1", "003A")
    assert await cache.get(key()) is None
    assert await cache.get(key(value="+6012")) is None
    assert await cache.get(key(value="miss@example.com")) is not None
    assert await cache.get(key(ws="ws-2")) is not None
