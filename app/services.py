"""Every service and shared client of the app, built once at start-up (`start_services`)
and closed at shutdown (`Services.close`). Routers reach them through app.deps.

What is built here, in order:

- the shared clients: the database, the one httpx client for every outbound call, the token
  cipher, the caller-token verifier and the HTML templates;
- the workspace core: stored credentials (`tokens`), the Salesforce client, the caches of
  Salesforce data (`caches`) and their `invalidation` on connect and disconnect, and, with
  CACHE_URL, the lookup cache in Redis and the purge bus between replicas;
- one service per feature: connections, workspace settings, lookup, edits, auto-create,
  write-back (record creation, activities).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jinja2

from app.auth import TokenVerifier
from app.autocreate.service import AutocreateService
from app.config import Settings
from app.connections.service import ConnectionService
from app.conversation_logging.service import ConversationLoggingService
from app.crypto import TokenCipher
from app.db import Database
from app.edits.service import EditService
from app.kit.breaker import CircuitBreaker
from app.kit.clocks import Clock, Now, utc_now, wall_clock_following
from app.lookup.service import LookupService
from app.salesforce.client import SalesforceClient
from app.tracing import instrument_database, instrument_http
from app.workspace.budget import ApiBudget
from app.workspace.bus import CacheBus
from app.workspace.caches import Invalidation, WorkspaceCaches
from app.workspace.context import WorkspaceContexts
from app.workspace.describe_store import DescribeStore
from app.workspace.describes import DescribeCache
from app.workspace.fallback_cache import FallbackLookupCache
from app.workspace.lookup_cache import LookupCache, MemoryLookupCache
from app.workspace.miss_limit import MemoryMissLimiter, MissLimiter, RedisMissLimiter
from app.workspace.near_cache import NearLookupCache
from app.workspace.peer_changes import PeerNotifyingLookupCache
from app.workspace.redis_budget import bounded_redis
from app.workspace.redis_cache import RedisLookupCache
from app.workspace.redis_streaming import StreamingRedisLookupCache
from app.workspace.redis_wire import connect_redis
from app.workspace.service_base import ServiceParts
from app.workspace.stream_state import StreamHealth, StreamListener
from app.workspace.tokens import TokenStore
from app.workspace.write_gate import WriteGate
from app.workspace_settings.service import WorkspaceSettingsService
from app.writeback.activities import ActivityService
from app.writeback.service import RecordCreationService


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    http: httpx.AsyncClient
    cipher: TokenCipher
    verifier: TokenVerifier
    templates: jinja2.Environment
    tokens: TokenStore
    salesforce: SalesforceClient
    budget: ApiBudget
    caches: WorkspaceCaches
    invalidation: Invalidation
    bus: CacheBus | None
    misses: MissLimiter
    writes: WriteGate
    connections: ConnectionService
    workspace_settings: WorkspaceSettingsService
    lookup: LookupService
    edits: EditService
    autocreate: AutocreateService
    record_creation: RecordCreationService
    activities: ActivityService
    conversation_logging: ConversationLoggingService
    # Record changes and stream health from the workers' change streams (docs/real-time.md).
    stream_listener: StreamListener | None = None

    async def close(self) -> None:
        await self.budget.stop()
        if self.stream_listener is not None:
            await self.stream_listener.stop()
        if self.bus is not None:
            await self.bus.stop()
        lookups = self.caches.lookups
        if isinstance(lookups, NearLookupCache):
            lookups = lookups.shared
        if isinstance(lookups, FallbackLookupCache):
            await lookups.shared.close()
        for limiter in (self.misses, self.writes.limiter):
            if isinstance(limiter, RedisMissLimiter):
                await limiter.close()
        await self.http.aclose()
        await self.db.dispose()


def outbound_http(settings: Settings) -> httpx.AsyncClient:
    """The one client every call to Salesforce and respond.io goes through."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.salesforce_timeout_seconds, connect=5.0),
        limits=httpx.Limits(
            max_connections=settings.salesforce_max_connections,
            max_keepalive_connections=settings.salesforce_max_connections,
        ),
        follow_redirects=False,
    )


async def start_services(
    settings: Settings, *, clock: Clock = time.monotonic, now: Now = utc_now
) -> Services:
    """Build everything; `clock` drives the expiry of the in-process caches, `now` the
    moments written with tokens (refresh times, back-off) and the expiry of verified caller
    tokens."""
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (`make run` starts an embedded PostgreSQL)")
    db = Database.for_settings(settings)
    instrument_database(db.engine, settings)
    http = outbound_http(settings)
    instrument_http(http, settings)
    cipher = TokenCipher(settings.encryption_keys)
    # Rows other processes read (usage, shared describes) are stamped with `now`; a test's
    # fake `clock` moves it too.
    wall = now if now is not utc_now else wall_clock_following(clock)
    budget = ApiBudget(db, settings, clock=clock, now=wall)
    tokens = TokenStore(db, cipher, http, settings, now=now, clock=clock, budget=budget)
    breaker = CircuitBreaker(
        failures=settings.salesforce_breaker_failures,
        window=settings.salesforce_breaker_window_seconds,
        open_seconds=settings.salesforce_breaker_open_seconds,
        clock=clock,
    )
    salesforce = SalesforceClient(http, settings, tokens, observer=budget, guard=breaker)
    health = StreamHealth(settings)
    sender = uuid.uuid4().hex  # this process, in the change messages it sends
    caches, bus = _workspace_caches(settings, db, salesforce, tokens, clock, health, sender)
    invalidation = Invalidation()
    invalidation.purge_on_both(caches.purge)
    invalidation.purge_on_both(tokens.forget_async)
    if bus is not None:
        await bus.start()
    listener = None
    if settings.change_stream_enabled:
        dsn = settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        lookups = caches.lookups
        if isinstance(lookups, PeerNotifyingLookupCache):
            lookups = lookups.local  # what others tell is applied here, never told again
        # A field added in Salesforce shows in the describes at once (docs/real-time.md).
        listener = StreamListener(
            dsn,
            db,
            lookups,
            health,
            sender=sender,
            on_describes_changed=caches.describes.distrust,
        )
        await listener.start()
    budget.start()
    misses = _rate_limiter(
        settings,
        clock,
        "missrate",
        settings.lookup_miss_rate_per_workspace,
        settings.lookup_miss_burst_per_workspace,
    )
    writes = WriteGate(
        budget,
        _rate_limiter(
            settings,
            clock,
            "writerate",
            settings.salesforce_write_rate_per_workspace,
            settings.salesforce_write_burst_per_workspace,
        ),
    )
    # What every workspace feature service is built from (app.workspace.service_base).
    parts = ServiceParts(db=db, caches=caches, salesforce=salesforce, tokens=tokens, writes=writes)
    return Services(
        settings=settings,
        db=db,
        http=http,
        cipher=cipher,
        verifier=TokenVerifier(settings, clock=lambda: now().timestamp()),
        templates=jinja2.Environment(
            loader=jinja2.PackageLoader("app", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        ),
        tokens=tokens,
        salesforce=salesforce,
        budget=budget,
        caches=caches,
        invalidation=invalidation,
        bus=bus,
        misses=misses,
        writes=writes,
        connections=ConnectionService(
            db=db,
            cipher=cipher,
            http=http,
            settings=settings,
            salesforce=salesforce,
            purge_workspace=invalidation.purge_workspace,
            budget=budget,
            now=now,
        ),
        workspace_settings=WorkspaceSettingsService(db, caches),
        lookup=LookupService(settings=settings, budget=budget, misses=misses, **parts),
        edits=EditService(**parts),
        autocreate=AutocreateService(db, cipher, settings, salesforce),
        record_creation=RecordCreationService(settings=settings, **parts),
        activities=ActivityService(settings=settings, **parts),
        conversation_logging=ConversationLoggingService(db, cipher, settings),
        stream_listener=listener,
    )


def _rate_limiter(
    settings: Settings, clock: Clock, name: str, rate: float, burst: int
) -> MissLimiter:
    """A per-workspace rate limit (lookup misses, writes); across replicas with CACHE_URL."""
    local = MemoryMissLimiter(rate, burst, clock=clock)
    if not settings.cache_url:
        return local
    return RedisMissLimiter(
        connect_redis(
            settings.cache_url,
            timeout=settings.cache_timeout_seconds,
            max_connections=settings.cache_max_connections,
        ),
        rate,
        burst,
        prefix=settings.cache_key_prefix,
        fallback=local,
        name=name,
    )


def _workspace_caches(
    settings: Settings,
    db: Database,
    salesforce: SalesforceClient,
    tokens: TokenStore,
    clock: Clock,
    health: StreamHealth,
    sender: str,
) -> tuple[WorkspaceCaches, CacheBus | None]:
    """The caches of the workspace core; with CACHE_URL, the lookup cache is shared in Redis
    and purges reach the other replicas over a bus."""
    contexts = WorkspaceContexts(db, clock=clock)
    # Answers of a streaming org live longer (docs/real-time.md).
    streaming_ttl = (
        settings.lookup_cache_ttl_streaming_seconds if settings.change_stream_enabled else None
    )
    describes = DescribeCache(
        salesforce,
        tokens,
        ttl_seconds=settings.fields_cache_ttl_seconds,
        ttl_for=health.describe_ttl_for,
        clock=clock,
        store=DescribeStore(db),
        now=wall_clock_following(clock),
    )
    if not settings.cache_url:
        lookups: LookupCache = MemoryLookupCache(
            ttl_seconds=settings.lookup_cache_ttl_seconds,
            max_entries=settings.lookup_cache_max_entries,
            clock=clock,
            ttl_for=health.ttl_for,
            max_ttl_seconds=streaming_ttl,
        )
        if streaming_ttl is not None:  # the other replicas listen: tell them of changes
            lookups = PeerNotifyingLookupCache(lookups, db, sender)
        return WorkspaceCaches(contexts, describes, lookups, health.is_streaming), None
    redis_client = connect_redis(
        settings.cache_url,
        timeout=settings.cache_timeout_seconds,
        max_connections=settings.cache_max_connections,
    )
    common: dict[str, Any] = {
        "ttl_seconds": settings.lookup_cache_ttl_seconds,
        "lock_seconds": settings.cache_lock_seconds,
        "prefix": settings.cache_key_prefix,
    }
    shared = (
        StreamingRedisLookupCache(
            redis_client, ttl_for=health.ttl_for, max_ttl_seconds=streaming_ttl, **common
        )
        if streaming_ttl is not None
        else RedisLookupCache(redis_client, **common)
    )

    near = NearLookupCache(
        FallbackLookupCache(
            shared,
            lambda: MemoryLookupCache(
                ttl_seconds=settings.lookup_cache_ttl_seconds,
                max_entries=settings.lookup_cache_max_entries,
                clock=clock,
            ),
        ),
        ttl_seconds=settings.lookup_near_cache_ttl_seconds,
        max_entries=settings.lookup_near_cache_max_entries,
        clock=clock,
    )

    def purged_elsewhere(workspace_id: str, generation: int) -> None:
        contexts.invalidate(workspace_id)
        describes.purge_workspace(workspace_id)
        tokens.forget(workspace_id)
        near.forget_workspace(workspace_id)
        shared.forget_local(workspace_id, generation)

    def changed_elsewhere(workspace_id: str, contact_id: str | None) -> None:
        if contact_id:
            near.forget_contact(workspace_id, contact_id)
        else:
            near.forget_workspace(workspace_id)

    # Publishing is bounded like every other command; the listening connection is not.
    bus_client = bounded_redis(
        settings.cache_url,
        timeout=settings.cache_timeout_seconds,
        socket_connect_timeout=settings.cache_timeout_seconds,
        health_check_interval=30,
    )
    bus = CacheBus(
        bus_client,
        channel=settings.cache_key_prefix + "purge",
        on_purge=purged_elsewhere,
        on_change=changed_elsewhere,
        on_subscribed=near.clear,
    )
    shared.on_purged = bus.publish
    near.announce = bus.publish_change
    near.listening = lambda: bus.listening
    return WorkspaceCaches(contexts, describes, near, health.is_streaming), bus
