"""The ASGI application: `uvicorn app.main:app`."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import jinja2
import redis.asyncio
from fastapi import FastAPI

from app import health
from app.auth import TokenVerifier
from app.autocreate.router import router as autocreate_router
from app.autocreate.router import webhook_router as salesforce_webhook_router
from app.cache_bus import CacheBus
from app.config import Settings, get_settings
from app.connections.router import router as connections_router
from app.contacts.cache import LookupCache, MemoryLookupCache
from app.contacts.edit_router import router as contact_edits_router
from app.contacts.redis_cache import RedisLookupCache, connect_redis
from app.contacts.router import router as contacts_router
from app.contacts.service import ContactLookupService
from app.crypto import TokenCipher
from app.db import Database
from app.docs_assets import install_offline_docs
from app.errors import install_error_handlers
from app.logs import configure_logging
from app.observability import ObservabilityMiddleware
from app.preview.router import install_sidebar_preview
from app.salesforce.client import SalesforceClient
from app.salesforce.tokens import TokenStore
from app.settings.context import WorkspaceCaches, WorkspaceContexts
from app.settings.fields import DescribeCache
from app.settings.router import router as settings_router
from app.settings.service import SettingsService

DESCRIPTION = """
Connects a respond.io workspace to its Salesforce org: see and edit the Salesforce Contact of
the person you are talking to, and create respond.io contacts from new Salesforce Contacts.

Every `/v1/workspaces/...` endpoint needs a respond.io gateway JWT: press **Authorize**.
Errors are `application/problem+json` with a stable `code`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set (`make run` starts an embedded PostgreSQL)")
        app.state.db = Database(settings.async_database_url, pool_size=settings.db_pool_size)
        app.state.http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.salesforce_timeout_seconds, connect=5.0),
            limits=httpx.Limits(
                max_connections=settings.salesforce_max_connections,
                max_keepalive_connections=settings.salesforce_max_connections,
            ),
            follow_redirects=False,
        )
        app.state.tokens = TokenStore(app.state.db, app.state.cipher, app.state.http, settings)
        app.state.salesforce = SalesforceClient(app.state.http, settings, app.state.tokens)
        bus = _build_contact_features(app, settings)
        if bus is not None:
            await bus.start()
        if settings.environment != "test":
            # Everything built so far lives as long as the process: keep it out of the cyclic
            # GC's full collections, which otherwise stall every request for ~100 ms at a time
            # under load (seen as the p99 of cached lookups).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if bus is not None:
                await bus.stop()
            if isinstance(app.state.lookup_cache, RedisLookupCache):
                await app.state.lookup_cache.close()
            await app.state.http.aclose()
            await app.state.db.dispose()

    app = FastAPI(
        title="respond.io Salesforce integration",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.state.cipher = TokenCipher(settings.encryption_keys)
    app.state.head_revision = health.head_revision()
    app.state.templates = jinja2.Environment(
        loader=jinja2.PackageLoader("app", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    # Features that cache Salesforce data append a purge here; disconnect awaits them all.
    on_disconnect: list[Callable[[str], Awaitable[None]]] = []
    # Caches that hold the connection's state (status, instance URL, answers under the old
    # grant) also drop it when the workspace connects or reconnects.
    on_connect: list[Callable[[str], Awaitable[None]]] = []

    async def purge_workspace(workspace_id: str, *, reason: str = "disconnect") -> None:
        for hook in on_connect if reason == "connect" else on_disconnect:
            await hook(workspace_id)

    app.state.on_disconnect = on_disconnect
    app.state.on_connect = on_connect
    app.state.purge_workspace = purge_workspace
    install_error_handlers(app)
    install_offline_docs(app)
    install_sidebar_preview(app)
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(health.router)
    app.include_router(autocreate_router)
    app.include_router(salesforce_webhook_router)
    app.include_router(connections_router)
    app.include_router(settings_router)
    app.include_router(contacts_router)
    app.include_router(contact_edits_router)
    return app


def _build_contact_features(app: FastAPI, settings: Settings) -> CacheBus | None:
    """Caches and services of the fields, settings and lookup features; with CACHE_URL, the
    lookup cache is shared in Redis and purges reach the other replicas over a bus."""
    # Tests may set `app.state.monotonic_clock` before start-up to drive cache expiry.
    clock = getattr(app.state, "monotonic_clock", time.monotonic)
    contexts = WorkspaceContexts(app.state.db, clock=clock)
    describes = DescribeCache(
        app.state.salesforce,
        app.state.tokens,
        ttl_seconds=settings.fields_cache_ttl_seconds,
        clock=clock,
    )
    lookups: LookupCache
    bus: CacheBus | None = None
    if settings.cache_url:
        shared = RedisLookupCache(
            connect_redis(
                settings.cache_url,
                socket_timeout=settings.cache_socket_timeout_seconds,
                max_connections=settings.cache_max_connections,
            ),
            ttl_seconds=settings.lookup_cache_ttl_seconds,
            lock_seconds=settings.cache_lock_seconds,
            prefix=settings.cache_key_prefix,
        )

        def purged_elsewhere(workspace_id: str, generation: int) -> None:
            contexts.invalidate(workspace_id)
            describes.purge_workspace(workspace_id)
            shared.forget_local(workspace_id, generation)

        bus = CacheBus(
            redis.asyncio.Redis.from_url(
                settings.cache_url,
                socket_connect_timeout=settings.cache_socket_timeout_seconds,
                health_check_interval=30,
            ),
            channel=settings.cache_key_prefix + "purge",
            on_purge=purged_elsewhere,
        )
        shared.on_purged = bus.publish
        lookups = shared
    else:
        lookups = MemoryLookupCache(
            ttl_seconds=settings.lookup_cache_ttl_seconds,
            max_entries=settings.lookup_cache_max_entries,
            clock=clock,
        )
    caches = WorkspaceCaches(contexts, describes, lookups)
    app.state.workspace_caches = caches
    app.state.lookup_cache = lookups
    app.state.settings_service = SettingsService(app.state.db, contexts, describes, lookups)
    app.state.contact_lookup = ContactLookupService(
        contexts=contexts,
        describes=describes,
        lookups=lookups,
        salesforce=app.state.salesforce,
        tokens=app.state.tokens,
        settings=settings,
    )
    app.state.on_disconnect.append(caches.purge)
    app.state.on_connect.append(caches.purge)
    return bus


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.main:app` builds the app on first access, not at import time, so tests
    # and tools can import this module without a configured environment.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
