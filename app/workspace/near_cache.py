"""A per-process near cache in front of the shared lookup cache in Redis.

With `CACHE_URL`, a cached lookup used to cost one Redis round trip (a Lua script reading the
workspace's generation and the entry): about 90 µs of client CPU plus Redis's own, which put
the Redis figure well below the in-process one. This cache keeps the answers this process
read from Redis (or loaded from Salesforce and stored there) for `LOOKUP_NEAR_CACHE_TTL_SECONDS`
(default 1 s) and serves them without the round trip.

Consistency (docs/production.md, "Running in production"; tests/scaleout/test_near_cache.py):

- Every write goes through the `LookupCache` methods of this class (edit: `update_contact`,
  revert and failures: `invalidate_contact`, a record created through the service:
  `forget_identifiers`, connect/disconnect/settings: `purge_workspace`).
  Each drops the affected near entries of this process before *and* after the write to Redis
  and bumps the workspace's generation, so a read in flight that began before the write stores
  nothing: the replica that made a change shows it on its next lookup.
- After the write to Redis, the change is published on the purge bus (app.workspace.bus): a
  contact change drops that contact's entries on every other replica, a purge all of the
  workspace's. A replica that receives it reads Redis, which already holds the change, on its
  next lookup. `bench/edit_visibility.py` measures the delay.
- Pub/sub is at-most-once. While this replica's subscription is down, the near cache is
  bypassed and emptied when it is back (messages may have been missed). A message lost while
  subscribed, or never published because the publisher lost Redis, keeps a stale answer at
  most `LOOKUP_NEAR_CACHE_TTL_SECONDS` after the change: entries are never served past it.
- An entry is served for at most that TTL beyond the moment Redis stopped calling it fresh.
- Stale-on-error answers are never kept here; they come from Redis every time.

A new way of changing cached answers is a new `LookupCache` method; here it wraps the shared
cache's call in `_changing(workspace_id, contact_id or None, call)` (None: every answer of the
workspace), which gives it the three guarantees above.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Unpack

from app.kit.clocks import Clock, monotonic
from app.salesforce.values import id15
from app.workspace.lookup_cache import (
    CacheResult,
    ContactChange,
    Loader,
    LookupCache,
    LookupEntry,
    LookupKey,
    StaleOn,
)

# (workspace, contact id or None for the whole workspace) -> tell the other replicas.
Announce = Callable[[str, str | None], Awaitable[None]]


@dataclass(eq=False, repr=False)
class NearLookupCache:
    """`LookupCache` in front of another `LookupCache` (the Redis one). One event loop."""

    shared: LookupCache
    _: KW_ONLY
    ttl_seconds: float
    max_entries: int
    clock: Clock = monotonic
    announce: Announce | None = None
    # Whether changes made by other replicas reach this one (the bus is subscribed).
    listening: Callable[[], bool] = lambda: True
    # key -> (the cached result to hand out, served until): insertion order = eviction.
    _held: dict[LookupKey, tuple[CacheResult, float]] = field(init=False, default_factory=dict)
    _by_contact: dict[tuple[str, str], set[LookupKey]] = field(init=False, default_factory=dict)
    # Bumped by every change: a read in flight that began before it must not be kept.
    _generation: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.max_entries = max(1, self.max_entries)

    @property
    def size(self) -> int:
        return len(self._held)

    # -- the Protocol -----------------------------------------------------------------------

    async def get(self, key: LookupKey) -> LookupEntry | None:
        held = self._fresh(key)
        if held is not None:
            return held.entry
        return await self.shared.get(key)

    async def set(self, key: LookupKey, entry: LookupEntry) -> None:
        await self._changing(key.workspace_id, None, self.shared.set(key, entry))

    async def fetch(self, key: LookupKey, load: Loader, *, stale_on: StaleOn = ()) -> CacheResult:
        held = self._held.get(key)
        if held is not None:
            if self.clock() < held[1]:
                return held[0]
            self._drop(key)
        workspace_id = key.workspace_id
        generation = self._generation.get(workspace_id, 0)
        result = await self.shared.fetch(key, load, stale_on=stale_on)
        if (
            not result.stale
            and self.ttl_seconds > 0
            and self._generation.get(workspace_id, 0) == generation
            and self.listening()
        ):
            self._keep(key, result.entry)
        return result

    async def invalidate_contact(self, workspace_id: str, contact_id: str) -> None:
        await self._changing(
            workspace_id, contact_id, self.shared.invalidate_contact(workspace_id, contact_id)
        )

    async def contact_entry(self, workspace_id: str, contact_id: str) -> LookupEntry | None:
        # Read where writes land (never a near copy): what another replica wrote counts.
        return await self.shared.contact_entry(workspace_id, contact_id)

    async def update_contact(
        self, workspace_id: str, record: dict[str, Any], **change: Unpack[ContactChange]
    ) -> None:
        contact_id = str(record.get("Id") or "") or None
        await self._changing(
            workspace_id,
            contact_id,
            self.shared.update_contact(workspace_id, record, **change),
        )

    async def forget_identifiers(self, workspace_id: str, identifiers: frozenset[str]) -> None:
        # Near copies are not indexed by identifier: every replica drops the workspace's (at
        # most a second old); Redis drops only the answers of these identifiers.
        await self._changing(
            workspace_id, None, self.shared.forget_identifiers(workspace_id, identifiers)
        )

    async def purge_workspace(self, workspace_id: str) -> None:
        # The shared cache announces a purge itself (the bus's generation message).
        self.forget_workspace(workspace_id)
        try:
            await self.shared.purge_workspace(workspace_id)
        finally:
            self.forget_workspace(workspace_id)

    # -- what the bus calls (changes made by other replicas) --------------------------------

    def forget_contact(self, workspace_id: str, contact_id: str) -> None:
        self._bump(workspace_id)
        for key in self._by_contact.pop((workspace_id, id15(contact_id)), ()):
            self._held.pop(key, None)

    def forget_workspace(self, workspace_id: str) -> None:
        self._bump(workspace_id)
        for key in [k for k in self._held if k.workspace_id == workspace_id]:
            self._drop(key)

    def clear(self) -> None:
        """Forget everything (the bus was away: messages may have been missed)."""
        for workspace_id in list(self._generation):
            self._bump(workspace_id)
        self._held.clear()
        self._by_contact.clear()

    # -- internals --------------------------------------------------------------------------

    async def _changing(
        self, workspace_id: str, contact_id: str | None, write: Awaitable[None]
    ) -> None:
        self._forget(workspace_id, contact_id)
        try:
            await write
        finally:
            # Again: a read that started during the write may have kept the old answer.
            self._forget(workspace_id, contact_id)
        if self.announce is not None:
            await self.announce(workspace_id, contact_id)

    def _forget(self, workspace_id: str, contact_id: str | None) -> None:
        if contact_id:
            self.forget_contact(workspace_id, contact_id)
        else:
            self.forget_workspace(workspace_id)

    def _fresh(self, key: LookupKey) -> CacheResult | None:
        held = self._held.get(key)
        if held is None:
            return None
        if self.clock() < held[1]:
            return held[0]
        self._drop(key)
        return None

    def _keep(self, key: LookupKey, entry: LookupEntry) -> None:
        self._drop(key)
        while len(self._held) >= self.max_entries:
            self._drop(next(iter(self._held)))
        self._held[key] = (CacheResult(entry, cached=True), self.clock() + self.ttl_seconds)
        contact_id = entry.contact_id
        if contact_id:
            self._by_contact.setdefault((key.workspace_id, id15(contact_id)), set()).add(key)

    def _drop(self, key: LookupKey) -> None:
        held = self._held.pop(key, None)
        if held is None:
            return
        contact_id = held[0].entry.contact_id
        if contact_id:
            index_key = (key.workspace_id, id15(contact_id))
            keys = self._by_contact.get(index_key)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_contact[index_key]

    def _bump(self, workspace_id: str) -> None:
        self._generation[workspace_id] = self._generation.get(workspace_id, 0) + 1
        if len(self._generation) > 4 * self.max_entries:
            # Loads in flight may then keep what they read, for one TTL at most.
            self._generation.clear()


__all__ = ["NearLookupCache"]
