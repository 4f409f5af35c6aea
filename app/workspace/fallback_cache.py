"""The shared (Redis) lookup cache with the process's own cache behind it: while Redis is
away, lookups are cached in the process instead of not at all (contract 10.11).

While the shared cache is `available`, everything goes to it (Redis failing in the middle of
a call is handled there: that call is answered from Salesforce). While it is not (for a
moment after each failure, see app.workspace.redis_cache), lookups are fetched through a
`MemoryLookupCache`. Changes (edits, purges) are applied to both, so neither keeps what a
change made wrong. When Redis answers again the in-process entries are dropped: they may
predate changes made on other replicas meanwhile, which this one could not hear of. Redis is
tried again a second after each failure, so the shared cache is used again within about a
second of Redis returning.

What the in-process cache cannot know: a change made on another replica while Redis was away
(the bus that carries such news runs over Redis). An answer cached here can be that stale for
up to LOOKUP_CACHE_TTL_SECONDS, as with a single replica and no Redis at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Unpack

from app.workspace.lookup_cache import (
    CacheResult,
    ContactChange,
    Loader,
    LookupEntry,
    LookupKey,
    MemoryLookupCache,
    StaleOn,
)
from app.workspace.redis_cache import RedisLookupCache


class FallbackLookupCache:
    def __init__(self, shared: RedisLookupCache, local: Callable[[], MemoryLookupCache]) -> None:
        self.shared = shared
        self._new_local = local
        self._local = local()
        self._local_used = False

    def _use_shared(self) -> bool:
        if self.shared.available:
            if self._local_used:
                self._local = self._new_local()  # Redis is back: drop what may be stale
                self._local_used = False
            return True
        self._local_used = True
        return False

    async def get(self, key: LookupKey) -> LookupEntry | None:
        if self._use_shared():
            entry = await self.shared.get(key)
            if entry is not None or self.shared.available:
                return entry
        return await self._local.get(key)

    async def set(self, key: LookupKey, entry: LookupEntry) -> None:
        if self._use_shared():
            await self.shared.set(key, entry)
        else:
            await self._local.set(key, entry)

    async def fetch(self, key: LookupKey, load: Loader, *, stale_on: StaleOn = ()) -> CacheResult:
        if self._use_shared():
            result = await self.shared.fetch(key, load, stale_on=stale_on)
            if self.shared.available or result.cached:
                return result
            # Redis failed during the call, which loaded from Salesforce: keep the answer here.
            self._local_used = True
            await self._local.set(key, result.entry)
            return result
        return await self._local.fetch(key, load, stale_on=stale_on)

    async def invalidate_contact(self, workspace_id: str, contact_id: str) -> None:
        await self._local.invalidate_contact(workspace_id, contact_id)
        await self.shared.invalidate_contact(workspace_id, contact_id)

    async def contact_entry(self, workspace_id: str, contact_id: str) -> LookupEntry | None:
        if self._use_shared():
            entry = await self.shared.contact_entry(workspace_id, contact_id)
            if entry is not None or self.shared.available:
                return entry
        return await self._local.contact_entry(workspace_id, contact_id)

    async def update_contact(
        self, workspace_id: str, record: dict[str, Any], **change: Unpack[ContactChange]
    ) -> None:
        await self._local.update_contact(workspace_id, record, **change)
        await self.shared.update_contact(workspace_id, record, **change)

    async def forget_identifiers(self, workspace_id: str, identifiers: frozenset[str]) -> None:
        await self._local.forget_identifiers(workspace_id, identifiers)
        await self.shared.forget_identifiers(workspace_id, identifiers)

    async def purge_workspace(self, workspace_id: str) -> None:
        await self._local.purge_workspace(workspace_id)
        await self.shared.purge_workspace(workspace_id)


__all__ = ["FallbackLookupCache"]
