"""The lookup cache in Redis, shared by every replica (`CACHE_URL=redis://...`).

Same `LookupCache` Protocol as the in-process cache, with these choices:

- Keys and purges: see app.workspace.redis_wire. A purge is one `INCR` of the workspace's
  generation, which every read returns with the entry: what was cached before it is
  unreachable everywhere at once.
- A replica that sees a generation it did not expect raises `ContextChanged`: its seconds-long
  snapshot of the workspace's connection and settings may predate the purge, so the lookup
  is retried once with a fresh snapshot (the pub/sub bus in `app.workspace.bus` usually gets
  there first).
- One value per entry, kept for the stale period; it is fresh while its remaining TTL is
  above `stale - ttl` (Redis's clock, so replicas' clocks do not matter).
- Single-flight across replicas: a miss takes `SET lock NX PX` in the same script that read
  the entry; the winner calls Salesforce, stores, and releases the lock; the others poll the
  entry with a short backoff and take over when the lock goes away without a value (a
  loader that died lets its lock expire). In front of that, one task per key per process,
  so a replica makes at most one lock attempt per key at a time.
- Redis down: skipped for `RETRY_AFTER_SECONDS` after an error (app.workspace.fallback_cache
  answers meanwhile), logged at most once per `LOG_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Unpack

from redis.asyncio import Redis

from app.kit.singleflight import SingleFlight
from app.salesforce.values import id15
from app.workspace.context import ContextChanged
from app.workspace.lookup_cache import (
    DEFAULT_STALE_SECONDS,
    CacheResult,
    ContactChange,
    Loader,
    LookupEntry,
    LookupKey,
    StaleOn,
    key_identifiers,
    latest_record,
    looked_up_with,
    refreshed_entry,
)
from app.workspace.redis_wire import (
    CONTACT_SCRIPT,
    FORGET_SCRIPT,
    READ_SCRIPT,
    REDIS_FAILURES,
    RELEASE_SCRIPT,
    STORE_SCRIPT,
    DecodedEntries,
    LoadFailed,
    RedisHealth,
    decode_entry,
    encode_entry,
    entries_with_ttl,
    identifier_digest,
    key_digest,
    unlink_prefix,
)

logger = logging.getLogger("app.contacts.cache")

RETRY_AFTER_SECONDS = 1.0
DECODED_MEMO_SIZE = 10_000
SEEN_GENERATIONS_MAX = 100_000
FIRST_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.05


class RedisLookupCache:
    def __init__(
        self,
        redis: Redis,
        *,
        ttl_seconds: float,
        stale_seconds: float = DEFAULT_STALE_SECONDS,
        lock_seconds: float = 20.0,
        prefix: str = "sfint:",
        on_purged: Callable[[str, int], Awaitable[None]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._redis = redis
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._stale_ms = max(self._ttl_ms, int(stale_seconds * 1000))
        self._lock_ms = max(1, int(lock_seconds * 1000))
        self._prefix = prefix
        self.on_purged = on_purged
        self._now = now or (lambda: datetime.now(UTC))
        self._read = redis.register_script(READ_SCRIPT)
        self._store = redis.register_script(STORE_SCRIPT)
        self._contact = redis.register_script(CONTACT_SCRIPT)
        self._release_lock = redis.register_script(RELEASE_SCRIPT)
        self._forget = redis.register_script(FORGET_SCRIPT)
        self._loads: SingleFlight[LookupKey, CacheResult] = SingleFlight()
        self._seen: dict[str, str] = {}  # workspace -> generation this process works with
        self._decode = DecodedEntries(DECODED_MEMO_SIZE)
        self._health = RedisHealth(logger, RETRY_AFTER_SECONDS)
        self._background: set[asyncio.Task[None]] = set()

    # -- keys -------------------------------------------------------------------------------

    def _generation_key(self, workspace_id: str) -> str:
        return f"{self._prefix}{{{workspace_id}}}:gen"

    def _base(self, workspace_id: str) -> str:
        """Prefix of the workspace's keys, to which the generation is appended."""
        return f"{self._prefix}{{{workspace_id}}}:"

    @property
    def available(self) -> bool:  # False for a moment after a failure (fallback_cache)
        return not self._health.skipping()

    # -- the Protocol -----------------------------------------------------------------------

    async def get(self, key: LookupKey) -> LookupEntry | None:
        if self._health.skipping():
            return None
        try:
            generation, raw, fresh, _ = await self._read_entry(key, key_digest(key), lock=None)
        except REDIS_FAILURES as exc:
            self._health.failed("get", exc)
            return None
        self._check_generation(key.workspace_id, generation, raise_changed=False)
        return self._decode(raw) if raw is not None and fresh else None

    async def set(self, key: LookupKey, entry: LookupEntry) -> None:
        await self._put(key, key_digest(key), entry, generation="", token="")

    async def fetch(self, key: LookupKey, load: Loader, *, stale_on: StaleOn = ()) -> CacheResult:
        digest = key_digest(key)
        if not self._health.skipping():
            # Each caller reads for itself: a request must see what was written before it
            # started (an edit through another replica), not an older read in flight.
            try:
                generation, raw, fresh, _ = await self._read_entry(key, digest, lock=None)
            except REDIS_FAILURES as exc:
                self._health.failed("read", exc)
            else:
                self._check_generation(key.workspace_id, generation)
                if raw is not None and fresh:
                    return CacheResult(self._decode(raw), cached=True)
        try:
            return await self._loads.run(key, partial(self._miss, key, digest, load))
        except LoadFailed as failed:
            if failed.stale is not None and isinstance(failed.error, stale_on):
                return CacheResult(failed.stale, cached=True, stale=True)
            raise failed.error from None

    async def invalidate_contact(self, workspace_id: str, contact_id: str) -> None:
        try:
            generation, digests = await self._contact_digests(workspace_id, contact_id)
            if digests:
                base = self._base(workspace_id) + generation
                await self._redis.unlink(
                    *(f"{base}:e:{d}" for d in digests), f"{base}:c:{id15(contact_id)}"
                )
        except REDIS_FAILURES as exc:
            self._health.failed("invalidate_contact", exc)

    async def contact_entry(self, workspace_id: str, contact_id: str) -> LookupEntry | None:
        if self._health.skipping():
            return None
        try:
            generation, digests = await self._contact_digests(workspace_id, contact_id)
            base = self._base(workspace_id) + generation
            held = await entries_with_ttl(self._redis, [f"{base}:e:{d}" for d in digests])
        except REDIS_FAILURES as exc:
            self._health.failed("contact_entry", exc)
            return None
        fresh_above = self._fresh_above_ms(workspace_id)
        return latest_record(self._decode(raw) for raw, ttl in held if ttl > fresh_above)

    async def update_contact(
        self, workspace_id: str, record: dict[str, Any], **change: Unpack[ContactChange]
    ) -> None:
        contact_id = str(record.get("Id") or "")
        if not contact_id:
            return
        try:
            generation, digests = await self._contact_digests(workspace_id, contact_id)
            if not digests:
                return
            base = self._base(workspace_id) + generation
            raws = await self._redis.mget([f"{base}:e:{d}" for d in digests])
            async with self._redis.pipeline(transaction=False) as pipe:
                for digest, raw in zip(digests, raws, strict=True):
                    if raw is None:
                        continue
                    entry = decode_entry(raw if isinstance(raw, bytes) else raw.encode())
                    if entry.record is None:
                        continue
                    fresh = refreshed_entry(entry, record, self._now(), **change)
                    pipe.set(f"{base}:e:{digest}", encode_entry(fresh), px=self._stale_ms)
                await pipe.execute()
        except REDIS_FAILURES as exc:
            self._health.failed("update_contact", exc)

    async def forget_identifiers(self, workspace_id: str, identifiers: frozenset[str]) -> None:
        self._loads.forget_where(looked_up_with(workspace_id, identifiers))
        if not identifiers:
            return
        try:
            await self._forget(
                keys=[self._generation_key(workspace_id)],
                args=[self._base(workspace_id), *sorted(map(identifier_digest, identifiers))],
            )
        except REDIS_FAILURES as exc:
            self._health.failed("forget_identifiers", exc)

    async def purge_workspace(self, workspace_id: str) -> None:
        self.forget_local(workspace_id)
        try:
            generation = int(await self._redis.incr(self._generation_key(workspace_id)))
        except REDIS_FAILURES as exc:
            # Keys carry the connection id and query shape: a reconnect or settings change
            # reads other entries anyway; edits made meanwhile show once the TTL passes.
            self._health.failed("purge_workspace", exc)
            return
        self._seen[workspace_id] = str(generation)
        self._spawn(self._delete_old_generations(workspace_id, generation))
        if self.on_purged is not None:
            await self.on_purged(workspace_id, generation)

    # -- for the bus and the lifespan -------------------------------------------------------

    def forget_local(self, workspace_id: str, generation: int | None = None) -> None:
        """Drop this process's loads in flight for the workspace (another replica purged)."""
        # Later callers start afresh; the old load stores nothing.
        self._loads.forget_where(lambda key: key.workspace_id == workspace_id)
        if generation is not None:
            self._seen[workspace_id] = str(generation)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self._redis.aclose()

    # -- internals --------------------------------------------------------------------------

    def _fresh_above_ms(self, workspace_id: str) -> int:
        """An entry of the workspace is fresh while its remaining TTL is above this."""
        return self._stale_ms - self._ttl_ms

    async def _read_entry(
        self, key: LookupKey, digest: str, *, lock: str | None
    ) -> tuple[str, bytes | None, bool, bool]:
        generation, raw, fresh, locked = await self._read(
            keys=[self._generation_key(key.workspace_id)],
            args=[
                self._base(key.workspace_id),
                digest,
                self._fresh_above_ms(key.workspace_id),
                self._lock_ms if lock else 0,
                lock or "",
            ],
        )
        return generation.decode(), raw, fresh == b"1", locked == b"1"

    async def _miss(self, key: LookupKey, digest: str, load: Loader) -> CacheResult:
        """One per key per process: read again, take the lock or wait for whoever has it."""
        token = hashlib.blake2b(str(id(asyncio.current_task())).encode(), digest_size=8)
        token.update(time.time_ns().to_bytes(8, "little"))
        lock = token.hexdigest()
        deadline = time.monotonic() + self._lock_ms / 1000 + 1.0
        delay = FIRST_POLL_SECONDS
        stale: LookupEntry | None = None
        while not self._health.skipping():
            try:
                generation, raw, fresh, locked = await self._read_entry(key, digest, lock=lock)
            except REDIS_FAILURES as exc:
                self._health.failed("lock", exc)
                break
            try:
                self._check_generation(key.workspace_id, generation)
            except ContextChanged:
                if locked:
                    await self._release(key, digest, generation, lock)
                raise
            if raw is not None:
                if fresh:
                    return CacheResult(self._decode(raw), cached=True)
                stale = self._decode(raw)
            if locked:
                return await self._load_and_store(key, digest, load, generation, lock, stale)
            if time.monotonic() >= deadline:
                break  # the lock holder is stuck: answer from Salesforce without it
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_POLL_SECONDS)
        return await self._load_and_store(key, digest, load, None, "", stale)

    async def _load_and_store(
        self,
        key: LookupKey,
        digest: str,
        load: Loader,
        generation: str | None,
        lock: str,
        stale: LookupEntry | None,
    ) -> CacheResult:
        try:
            entry = await load()
        except ContextChanged:
            await self._release(key, digest, generation, lock)
            raise
        except Exception as exc:
            # Released at once: a waiting replica takes over instead of waiting out the lock.
            await self._release(key, digest, generation, lock)
            raise LoadFailed(exc, stale) from exc
        if generation is not None and self._loads.owns(key, asyncio.current_task()):
            await self._put(key, digest, entry, generation=generation, token=lock)
        else:
            await self._release(key, digest, generation, lock)
        return CacheResult(entry, cached=False)

    async def _put(
        self, key: LookupKey, digest: str, entry: LookupEntry, *, generation: str, token: str
    ) -> None:
        if self._health.skipping():
            return
        contact_id = entry.contact_id
        try:
            await self._store(
                keys=[self._generation_key(key.workspace_id)],
                args=[
                    self._base(key.workspace_id),
                    generation,
                    digest,
                    encode_entry(entry),
                    self._stale_ms,
                    id15(contact_id) if contact_id else "",
                    token,
                    *map(identifier_digest, key_identifiers(key)),
                ],
            )
        except REDIS_FAILURES as exc:
            self._health.failed("store", exc)

    async def _release(
        self, key: LookupKey, digest: str, generation: str | None, lock: str
    ) -> None:
        if generation is None or not lock:
            return
        lock_key = f"{self._base(key.workspace_id)}{generation}:l:{digest}"
        try:
            await self._release_lock(keys=[lock_key], args=[lock])
        except REDIS_FAILURES as exc:
            self._health.failed("release", exc)

    async def _contact_digests(self, workspace_id: str, contact_id: str) -> tuple[str, list[str]]:
        generation, digests = await self._contact(
            keys=[self._generation_key(workspace_id)],
            args=[self._base(workspace_id), id15(contact_id)],
        )
        return generation.decode(), sorted(d.decode() for d in digests)

    def _check_generation(
        self, workspace_id: str, generation: str, *, raise_changed: bool = True
    ) -> None:
        seen = self._seen.get(workspace_id)
        if seen == generation:
            return
        if len(self._seen) >= SEEN_GENERATIONS_MAX:
            self._seen.clear()
        self._seen[workspace_id] = generation
        if seen is not None and raise_changed:
            # Purged by another replica since this process last looked: the caller's
            # snapshot of the workspace may be older than that.
            self.forget_local(workspace_id)
            raise ContextChanged()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _delete_old_generations(self, workspace_id: str, current: int) -> None:
        """Unreachable already; deleted so a disconnected workspace's data does not linger."""
        base = self._base(workspace_id)
        try:
            await unlink_prefix(
                self._redis, base, keep=(f"{base}{current}:", self._generation_key(workspace_id))
            )
        except REDIS_FAILURES as exc:
            self._health.failed("purge_cleanup", exc)


__all__ = ["RedisLookupCache"]
