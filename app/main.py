"""The ASGI application: `uvicorn app.main:app`."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from app import health
from app.autocreate.router import router as autocreate_router
from app.autocreate.router import webhook_router as salesforce_webhook_router
from app.body_guard import BodyGuard
from app.config import Settings, get_settings
from app.connections.router import router as connections_router
from app.conversation_logging.router import router as conversation_logging_router
from app.conversation_logging.router import webhook_router as respondio_webhook_router
from app.docs_assets import install_offline_docs
from app.edits.router import router as edits_router
from app.error_handlers import install_error_handlers
from app.kit.clocks import Clock, Now, utc_now
from app.logs import configure_logging
from app.lookup.router import router as lookup_router
from app.observability import ObservabilityMiddleware
from app.openapi import install_problem_documents, operation_id
from app.preview.router import install_sidebar_preview
from app.services import start_services
from app.tracing import instrument_app
from app.workspace.redis_budget import RedisBudgetMiddleware
from app.workspace_settings.router import router as workspace_settings_router
from app.writeback.router import router as writeback_router

NO_FASTAPI_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
DESCRIPTION = """
Connects a respond.io workspace to its Salesforce org: see and edit the Salesforce Contact of
the person you are talking to, and create respond.io contacts from new Salesforce Contacts.

Every `/v1/workspaces/...` endpoint needs a respond.io gateway JWT: press **Authorize**.
Errors are `application/problem+json` with a stable `code`.
"""


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, now: Now | None = None
) -> FastAPI:
    """The app; its services (app.services) are built when it starts. `clock` drives the
    expiry of the in-process caches, `now` the wall-clock moments (token refreshes, the expiry
    of caller tokens kept verified); tests pass fake ones."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await start_services(settings, clock=clock or time.monotonic, now=now or utc_now)
        app.state.services = services
        if settings.environment != "test":
            # Everything built so far lives as long as the process: keep it out of the cyclic
            # GC's full collections, which otherwise stall every request for ~100 ms at a time
            # under load (seen as the p99 of cached lookups).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="respond.io Salesforce integration",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # A trailing-slash redirect is built from the Host header: a forged Host would send
        # clients elsewhere. A path with a trailing slash is simply not found.
        redirect_slashes=False,
        # Operation ids are the routes' names (`lookup_contact`): what generated clients call.
        generate_unique_id_function=operation_id,
        # FastAPI's own OpenTelemetry spans record raw paths (webhook keys are secrets) and
        # query strings (emails, phones), and cost CPU on every request: app.tracing traces
        # the requests instead.
        telemetry=NO_FASTAPI_TELEMETRY,
    )
    # Innermost of the middleware: callers authenticated and bodies capped before any route
    # reads one; the error and metrics middleware (added after it) wrap it.
    app.add_middleware(BodyGuard, timeout=settings.request_body_timeout_seconds)
    if settings.cache_url:
        app.add_middleware(RedisBudgetMiddleware, seconds=settings.cache_timeout_seconds)
    install_error_handlers(app)
    install_problem_documents(app)
    # Routes are matched in the order they were added, one included router after another:
    # the lookup, the hot path, goes first (no other path overlaps it).
    app.include_router(lookup_router)
    install_offline_docs(app)
    install_sidebar_preview(app, settings)
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(health.router)
    app.include_router(autocreate_router)
    app.include_router(salesforce_webhook_router)
    app.include_router(connections_router)
    app.include_router(workspace_settings_router)
    app.include_router(edits_router)
    app.include_router(writeback_router)
    app.include_router(conversation_logging_router)
    app.include_router(respondio_webhook_router)
    instrument_app(app, settings)  # the outermost middleware: added last
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.main:app` builds the app on first access, not at import time, so tests
    # and tools can import this module without a configured environment.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
