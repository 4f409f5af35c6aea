"""Request logging and Prometheus metrics, as one pure ASGI middleware (cheap on the hot path)."""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import route_template

logger = logging.getLogger("app.http")

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CACHE_EVENTS = Counter("lookup_cache_events_total", "Lookup cache hits and misses", ["event"])
TOKEN_CACHE_EVENTS = Counter(
    "auth_token_cache_events_total",
    "Caller tokens: hit (verified before), miss (decoded now), expired (refused from the cache)",
    ["event"],
)


QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
# Counted (and logged) for a request whose client went away before its body ended: nothing
# was answered, and it is the client's doing, not a server error (nginx's convention).
CLIENT_CLOSED = 499


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The metric children per (method, route, status): `labels()` takes a lock and
        # rebuilds its key on every call. Routes are templates, so this stays small.
        self._metrics: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:
            status = CLIENT_CLOSED
            logger.info("http.client_disconnected", extra={"route": route_template(scope)})
        finally:
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            method = scope["method"]
            metrics = self._metrics.get((method, route, status))
            if metrics is None:
                metrics = (
                    HTTP_REQUESTS.labels(method, route, str(status)),
                    HTTP_LATENCY.labels(method, route),
                )
                self._metrics[(method, route, status)] = metrics
            metrics[0].inc()
            metrics[1].observe(elapsed)
            if route not in QUIET_ROUTES or status >= 500:
                fields: dict[str, Any] = {
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                }
                workspace = scope.get("path_params", {}).get("workspace_id")
                if workspace:
                    fields["workspace_id"] = workspace
                logger.info("http.request", extra=fields)
