"""The lookup cache: answers from Salesforce (matches and misses) for a short while.

Why each part is there:

- Keys carry the workspace *and* the connection id. The connection id changes on every fresh
  connect, so nothing cached for an earlier grant (maybe another org) can ever be served
  after a reconnect, even if a purge were missed. No key is shared between workspaces, even
  when two workspaces look up the same email in the same org.
- Single-flight: concurrent misses for one key share one Salesforce call (one task per key);
  a sidebar opened by many agents at once costs one API request.
- Stale on error: expired entries stay in a second, larger-TTL cache; when Salesforce is
  rate-limited or unavailable and such an entry exists, it is served marked `stale`.
- An index contact id → keys lets an edit refresh or drop every entry holding that contact,
  and an index identifier → keys lets a record created through the service drop every answer
  (a cached miss above all) given for its email or phone.

`LookupCache` is the interface the service depends on; `MemoryLookupCache` is the
per-process implementation; `RedisLookupCache` (app.workspace.redis_cache) is the one shared
by several replicas, behind the same Protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypedDict, Unpack

from cachetools import TTLCache

from app.kit.clocks import Clock, Now, monotonic, utc_now
from app.kit.singleflight import SingleFlight
from app.salesforce.values import id15

DEFAULT_STALE_SECONDS = 6 * 60 * 60


@dataclass(frozen=True, slots=True)
class LookupKey:
    workspace_id: str
    connection_id: str
    kind: str  # "email", "phone" or "email+phone"
    value: str  # the normalized identifier(s)
    variant: str = ""  # fingerprint of the query's shape (selected fields, phone matching)


@dataclass(frozen=True, slots=True)
class LookupEntry:
    """What Salesforce answered. `record` holds only the selected fields (JSON values)."""

    matched_on: str | None
    record: dict[str, Any] | None
    other_matches: int
    fetched_at: datetime
    # Fields with an edit made through respond.io that can still be reverted, read from the
    # edit history with the record, so a cached answer needs no database round-trip.
    revertible: frozenset[str] = frozenset()
    sobject: str = "Contact"  # what `record` is: a Contact or (Leads enabled) a Lead
    # The Contact's Account, open Opportunities and Cases (docs/whole-customer.md), cached
    # and dropped with it; None when no related part is enabled.
    related: dict[str, Any] | None = None

    @property
    def contact_id(self) -> str | None:
        return str(self.record["Id"]) if self.record and self.record.get("Id") else None


def key_identifiers(key: LookupKey) -> tuple[str, ...]:
    """The normalized email and/or phone a key was looked up with."""
    return tuple(key.value.split("\x1f"))


def looked_up_with(workspace_id: str, identifiers: frozenset[str]) -> Callable[[LookupKey], bool]:
    """Whether a key is the workspace's and was looked up with one of `identifiers`."""
    return lambda key: (
        key.workspace_id == workspace_id and not identifiers.isdisjoint(key_identifiers(key))
    )


@dataclass(frozen=True, slots=True)
class CacheResult:
    entry: LookupEntry
    cached: bool
    stale: bool = False


Loader = Callable[[], Awaitable[LookupEntry]]
# The errors of a load on which `fetch` answers with the kept expired entry instead.
StaleOn = tuple[type[BaseException], ...]


@dataclass(frozen=True, slots=True)
class NewCase:
    """A Case just opened for the Contact through the service: its fields as the lookup
    keeps them (`Id` and the shown ones), and how many open Cases an answer holds."""

    record: dict[str, Any]
    limit: int


def with_new_case(related: dict[str, Any] | None, case: NewCase) -> dict[str, Any] | None:
    """The related records with the new Case first among the open Cases (newest first),
    where the answer shows Cases at all."""
    if related is None or not isinstance(related.get("cases"), list):
        return related
    others = [c for c in related["cases"] if c.get("Id") != case.record.get("Id")]
    return {**related, "cases": [case.record, *others][: case.limit]}


class ContactChange(TypedDict, total=False):
    """What else an update of a contact's cached entries brings besides its field values."""

    revertible: frozenset[str] | None  # the fields that can now be reverted
    new_case: NewCase | None  # a Case just opened for the contact


def refreshed_entry(
    entry: LookupEntry,
    record: dict[str, Any],
    fetched_at: datetime,
    revertible: frozenset[str] | None = None,
    new_case: NewCase | None = None,
) -> LookupEntry:
    """`entry` with the selected fields that `record` (fresh from Salesforce) carries (and,
    with `new_case`, that Case among its open ones)."""
    assert entry.record is not None
    merged = {
        name: record[name] if name in record and name != "attributes" else value
        for name, value in entry.record.items()
    }
    updated = replace(entry, record=merged, fetched_at=fetched_at)
    if new_case is not None:
        updated = replace(updated, related=with_new_case(updated.related, new_case))
    return updated if revertible is None else replace(updated, revertible=revertible)


def latest_record(entries: Iterable[LookupEntry | None]) -> LookupEntry | None:
    """The most recently read of the entries that hold a record."""
    held = [e for e in entries if e is not None and e.record is not None]
    return max(held, key=lambda e: e.fetched_at) if held else None


class LookupCache(Protocol):
    async def get(self, key: LookupKey) -> LookupEntry | None:
        """A fresh entry, or None."""

    async def set(self, key: LookupKey, entry: LookupEntry) -> None: ...

    async def fetch(self, key: LookupKey, load: Loader, *, stale_on: StaleOn = ()) -> CacheResult:
        """The fresh entry, or one `load()` shared by every concurrent caller of the key;
        when that load raises one of `stale_on` and an expired entry is kept, that entry."""

    async def invalidate_contact(self, workspace_id: str, contact_id: str) -> None:
        """Drop every entry of the workspace holding this contact."""

    async def contact_entry(self, workspace_id: str, contact_id: str) -> LookupEntry | None:
        """The most recently read fresh entry of the workspace holding this contact's record,
        or None (an edit that changes nothing is answered from it without a call)."""

    async def update_contact(
        self, workspace_id: str, record: dict[str, Any], **change: Unpack[ContactChange]
    ) -> None:
        """Write the given field values (and, when given, the revertible fields, or a Case
        just opened for the contact) into every entry holding the record's contact."""

    async def forget_identifiers(self, workspace_id: str, identifiers: frozenset[str]) -> None:
        """Drop every entry of the workspace looked up with one of these normalized emails or
        phones (app.workspace.identifiers), matches and misses alike: a record was created."""

    async def purge_workspace(self, workspace_id: str) -> None:
        """Forget everything cached for the workspace (disconnect, reconnect, settings)."""


class MemoryLookupCache:
    """In-process LookupCache on cachetools TTLCaches. Not thread-safe: one event loop."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int,
        stale_seconds: float = DEFAULT_STALE_SECONDS,
        clock: Clock = monotonic,
        now: Now = utc_now,
        ttl_for: Callable[[str], float] | None = None,
        max_ttl_seconds: float | None = None,
    ) -> None:
        # `ttl_for(workspace)`: how long an answer stays fresh for that workspace, checked on
        # every read (longer while its org's change stream is healthy), up to max_ttl_seconds.
        longest = max(ttl_seconds, max_ttl_seconds or 0.0)
        self._fresh: TTLCache[LookupKey, tuple[LookupEntry, float]] = TTLCache(
            maxsize=max_entries, ttl=longest, timer=clock
        )
        self._clock = clock
        self._ttl_for = ttl_for or (lambda _workspace_id: ttl_seconds)
        self._stale: TTLCache[LookupKey, LookupEntry] = TTLCache(
            maxsize=max_entries, ttl=max(stale_seconds, longest), timer=clock
        )
        self._max_entries = max_entries
        self._loads: SingleFlight[LookupKey, LookupEntry] = SingleFlight()
        self._by_contact: dict[tuple[str, str], set[LookupKey]] = {}
        self._by_identifier: dict[tuple[str, str], set[LookupKey]] = {}
        # Bumped by every purge: a load that started before it must not store its answer.
        self._generation: dict[str, int] = {}
        self._now = now

    # -- the Protocol -----------------------------------------------------------------------

    async def get(self, key: LookupKey) -> LookupEntry | None:
        return self._fresh_entry(key)

    async def set(self, key: LookupKey, entry: LookupEntry) -> None:
        self._store(key, entry)

    async def fetch(self, key: LookupKey, load: Loader, *, stale_on: StaleOn = ()) -> CacheResult:
        entry = self._fresh_entry(key)
        if entry is not None:
            return CacheResult(entry, cached=True)
        generation = self._generation.get(key.workspace_id, 0)
        try:
            entry = await self._loads.run(key, partial(self._load, key, load, generation))
        except stale_on:
            kept = self._stale.get(key)
            if kept is None:
                raise
            return CacheResult(kept, cached=True, stale=True)
        return CacheResult(entry, cached=False)

    async def invalidate_contact(self, workspace_id: str, contact_id: str) -> None:
        for key in self._keys_of_contact(workspace_id, contact_id, pop=True):
            self._fresh.pop(key, None)
            self._stale.pop(key, None)

    async def contact_entry(self, workspace_id: str, contact_id: str) -> LookupEntry | None:
        keys = self._keys_of_contact(workspace_id, contact_id, pop=False)
        return latest_record(self._fresh_entry(key) for key in keys)

    async def update_contact(
        self, workspace_id: str, record: dict[str, Any], **change: Unpack[ContactChange]
    ) -> None:
        # A record without an id finds no entry: only non-empty contact ids are indexed.
        contact_id = str(record.get("Id") or "")
        for key in self._keys_of_contact(workspace_id, contact_id, pop=False):
            entry = self._stale.get(key)
            if entry is None or entry.record is None:
                continue
            self._store(key, refreshed_entry(entry, record, self._now(), **change))

    async def forget_identifiers(self, workspace_id: str, identifiers: frozenset[str]) -> None:
        for identifier in identifiers:
            for key in self._by_identifier.pop((workspace_id, identifier), set()):
                self._fresh.pop(key, None)
                self._stale.pop(key, None)
        # A load in flight for one of them answers its caller but later callers start anew.
        self._loads.forget_where(looked_up_with(workspace_id, identifiers))

    async def purge_workspace(self, workspace_id: str) -> None:
        self._generation[workspace_id] = self._generation.get(workspace_id, 0) + 1
        # Later callers start a new load; the old one stores nothing.
        self._loads.forget_where(lambda key: key.workspace_id == workspace_id)
        for cache in (self._fresh, self._stale):
            for key in [k for k in list(cache.keys()) if k.workspace_id == workspace_id]:
                cache.pop(key, None)
        for index in (self._by_contact, self._by_identifier):
            for index_key in [k for k in index if k[0] == workspace_id]:
                del index[index_key]

    # -- internals --------------------------------------------------------------------------

    def _fresh_entry(self, key: LookupKey) -> LookupEntry | None:
        held = self._fresh.get(key)
        if held is None or self._clock() - held[1] >= self._ttl_for(key.workspace_id):
            return None
        return held[0]

    async def _load(self, key: LookupKey, load: Loader, generation: int) -> LookupEntry:
        entry = await load()
        if self._generation.get(key.workspace_id, 0) == generation:
            self._store(key, entry)
        return entry

    def _store(self, key: LookupKey, entry: LookupEntry) -> None:
        self._fresh[key] = (entry, self._clock())
        self._stale[key] = entry
        contact_id = entry.contact_id
        if contact_id:
            self._by_contact.setdefault((key.workspace_id, id15(contact_id)), set()).add(key)
        for identifier in key_identifiers(key):
            self._by_identifier.setdefault((key.workspace_id, identifier), set()).add(key)
        if max(len(self._by_contact), len(self._by_identifier)) > 2 * self._max_entries:
            self._rebuild_index()

    def _keys_of_contact(self, workspace_id: str, contact_id: str, *, pop: bool) -> list[LookupKey]:
        index_key = (workspace_id, id15(contact_id))
        keys = (
            self._by_contact.pop(index_key, set())
            if pop
            else self._by_contact.get(index_key, set())
        )
        return [k for k in keys if k.workspace_id == workspace_id]

    def _rebuild_index(self) -> None:
        """Entries leave the TTLCaches silently; drop index rows that point nowhere."""
        index: dict[tuple[str, str], set[LookupKey]] = {}
        by_identifier: dict[tuple[str, str], set[LookupKey]] = {}
        for key, entry in list(self._stale.items()):
            if entry.contact_id:
                index.setdefault((key.workspace_id, id15(entry.contact_id)), set()).add(key)
            for identifier in key_identifiers(key):
                by_identifier.setdefault((key.workspace_id, identifier), set()).add(key)
        self._by_contact = index
        self._by_identifier = by_identifier


__all__ = [
    "CacheResult",
    "ContactChange",
    "LookupCache",
    "LookupEntry",
    "LookupKey",
    "MemoryLookupCache",
    "NewCase",
    "StaleOn",
    "key_identifiers",
    "latest_record",
    "looked_up_with",
    "refreshed_entry",
]
