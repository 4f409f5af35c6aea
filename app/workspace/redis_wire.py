"""What the shared lookup cache (app.workspace.redis_cache) keeps in Redis and how it talks
to it: the Lua scripts, the encoding of an entry, the key digest, a client with short
timeouts, and what counts as Redis being away.

Keys. Every key of a workspace carries the hash tag `{workspace}` (one Redis Cluster slot,
so the Lua scripts below touch one node) and the workspace's *generation*:
`<prefix>{ws}:<gen>:e:<digest>` (an entry), `...:l:<digest>` (its load lock),
`...:c:<contact id>` (the contact index: a set of digests), `...:i:<identifier digest>` (the
identifier index: the digests of the entries looked up with that email or phone). The digest
hashes the connection id, identifier kind, normalized identifier(s) and query shape, so
emails and phones never appear in key names.

Purge is O(1): `INCR <prefix>{ws}:gen`. Every replica reads the generation together with
the entry (one round trip, a Lua script), so what was cached before a disconnect, reconnect
or settings change is unreachable everywhere at once, and a load that began before the
purge stores under the old generation where nobody looks. The old generation's keys are
then deleted in the background by a `SCAN` of the workspace's prefix (purges are rare; the
keys would expire on their own anyway).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from datetime import datetime

from prometheus_client import Counter
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.workspace.lookup_cache import LookupEntry, LookupKey
from app.workspace.redis_budget import BoundedRedis

REDIS_ERRORS = Counter(
    "lookup_cache_redis_errors_total",
    "Redis calls of the shared lookup cache that failed (answered from Salesforce instead)",
    ["operation"],
)

REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)
LOG_INTERVAL_SECONDS = 30.0

# KEYS[1] generation key; ARGV: workspace prefix, digest, fresh threshold (ms), lock ms
# (0 = read only), lock token. Returns {generation, entry or nil, "1" when fresh, "1" when
# this caller took the lock}.
READ_SCRIPT = """
local g = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. g
local v = redis.call('GET', base .. ':e:' .. ARGV[2])
local fresh = '0'
if v and redis.call('PTTL', base .. ':e:' .. ARGV[2]) > tonumber(ARGV[3]) then fresh = '1' end
local locked = '0'
if fresh == '0' and tonumber(ARGV[4]) > 0 then
  if redis.call('SET', base .. ':l:' .. ARGV[2], ARGV[5], 'NX', 'PX', ARGV[4]) then
    locked = '1'
  end
end
return {g, v, fresh, locked}
"""

# KEYS[1] generation key; ARGV: workspace prefix, expected generation ('' = current), digest,
# entry, stale ms, contact id ('' for a miss), lock token ('' = none), then the digests of the
# key's identifiers. Stores nothing when a purge moved the generation on; releases the
# caller's lock either way.
STORE_SCRIPT = """
local g = redis.call('GET', KEYS[1]) or '0'
local expected = ARGV[2]
if expected == '' then expected = g end
local base = ARGV[1] .. expected
if ARGV[7] ~= '' and redis.call('GET', base .. ':l:' .. ARGV[3]) == ARGV[7] then
  redis.call('DEL', base .. ':l:' .. ARGV[3])
end
if g ~= expected then return 0 end
redis.call('SET', base .. ':e:' .. ARGV[3], ARGV[4], 'PX', ARGV[5])
if ARGV[6] ~= '' then
  local c = base .. ':c:' .. ARGV[6]
  redis.call('SADD', c, ARGV[3])
  redis.call('PEXPIRE', c, ARGV[5])
end
for i = 8, #ARGV do
  local ix = base .. ':i:' .. ARGV[i]
  redis.call('SADD', ix, ARGV[3])
  redis.call('PEXPIRE', ix, ARGV[5])
end
return 1
"""

# KEYS[1] the lock; ARGV[1] the caller's token. Deletes the lock only if it is still ours
# (one that expired and was taken by another replica stays).
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] generation key; ARGV: workspace prefix, contact id. The generation and the digests
# of the entries holding the contact.
CONTACT_SCRIPT = """
local g = redis.call('GET', KEYS[1]) or '0'
return {g, redis.call('SMEMBERS', ARGV[1] .. g .. ':c:' .. ARGV[2])}
"""


# KEYS[1] generation key; ARGV: workspace prefix, then identifier digests. Deletes every entry
# of the current generation looked up with one of them, and their index sets.
FORGET_SCRIPT = """
local g = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. g
local n = 0
for i = 2, #ARGV do
  local ix = base .. ':i:' .. ARGV[i]
  for _, d in ipairs(redis.call('SMEMBERS', ix)) do
    n = n + redis.call('DEL', base .. ':e:' .. d)
  end
  redis.call('DEL', ix)
end
return n
"""


def identifier_digest(identifier: str) -> str:
    """An email or phone as it may appear in a key name: hashed."""
    return hashlib.blake2b(identifier.encode(), digest_size=16).hexdigest()


def encode_entry(entry: LookupEntry) -> bytes:
    return json.dumps(
        {
            "m": entry.matched_on,
            "r": entry.record,
            "o": entry.other_matches,
            "f": entry.fetched_at.isoformat(),
            "v": sorted(entry.revertible),
            "s": entry.sobject,
            **({"a": entry.related} if entry.related is not None else {}),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def decode_entry(raw: bytes) -> LookupEntry:
    data = json.loads(raw)
    return LookupEntry(
        matched_on=data["m"],
        record=data["r"],
        other_matches=int(data["o"]),
        fetched_at=datetime.fromisoformat(data["f"]),
        revertible=frozenset(data.get("v") or ()),
        sobject=data.get("s") or "Contact",
        related=data.get("a"),
    )


def key_digest(key: LookupKey) -> str:
    material = "\x1f".join((key.connection_id, key.kind, key.value, key.variant))
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


class RedisHealth:
    """After a failure Redis is skipped for `retry_after` seconds, so requests do not each
    pay a timeout; the failure is logged at most once per `LOG_INTERVAL_SECONDS`."""

    def __init__(self, logger: logging.Logger, retry_after: float) -> None:
        self._logger = logger
        self._retry_after = retry_after
        self._skip_until = 0.0
        self._logged_at = -LOG_INTERVAL_SECONDS

    def skipping(self) -> bool:
        return self._skip_until > 0 and time.monotonic() < self._skip_until

    def failed(self, operation: str, exc: BaseException) -> None:
        REDIS_ERRORS.labels(operation).inc()
        now = time.monotonic()
        self._skip_until = now + self._retry_after
        if now - self._logged_at >= LOG_INTERVAL_SECONDS:
            self._logged_at = now
            self._logger.warning(
                "cache.redis.unavailable",
                extra={"operation": operation, "error": type(exc).__name__},
            )


class DecodedEntries:
    """`decode_entry` with a memo: the same bytes give the same (immutable) entry object, so
    the service's memo of rendered answers keeps working across Redis reads."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: dict[bytes, LookupEntry] = {}

    def __call__(self, raw: bytes) -> LookupEntry:
        entry = self._entries.get(raw)
        if entry is None:
            entry = decode_entry(raw)
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[raw] = entry
        return entry


class LoadFailed(Exception):
    """The shared load raised; carries the entry kept for stale-on-error, if any."""

    def __init__(self, error: BaseException, stale: LookupEntry | None) -> None:
        super().__init__(type(error).__name__)
        self.error = error
        self.stale = stale


def connect_redis(url: str, *, timeout: float, max_connections: int) -> Redis:
    """A client with short timeouts and no retries: a slow cache is a missing cache. Each
    command, waiting for a connection included, is bounded by `timeout` and by what the
    request has left to spend on Redis (app.workspace.redis_budget)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    client = BoundedRedis(connection_pool=pool)
    client.command_timeout = timeout
    return client


async def unlink_prefix(redis: Redis, prefix: str, *, keep: tuple[str, str]) -> None:
    """Delete every key under `prefix` except those starting with `keep[0]` and the key
    `keep[1]`: a SCAN of the prefix, UNLINKed in batches."""
    pattern = _glob_escape(prefix) + "*"
    batch: list[bytes] = []
    async for name in redis.scan_iter(match=pattern, count=1000):
        text = name.decode()
        if text.startswith(keep[0]) or text == keep[1]:
            continue
        batch.append(name)
        if len(batch) >= 500:
            await redis.unlink(*batch)
            batch = []
    if batch:
        await redis.unlink(*batch)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


async def entries_with_ttl(redis: Redis, keys: list[str]) -> list[tuple[bytes, int]]:
    """The value and remaining milliseconds of each of `keys` that exists (one round trip)."""
    if not keys:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        replies = await pipe.execute()
    return [
        (raw if isinstance(raw, bytes) else str(raw).encode(), int(ttl))
        for raw, ttl in zip(replies[::2], replies[1::2], strict=True)
        if raw is not None
    ]
