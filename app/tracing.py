"""Traces (docs/operations.md, "Traces"): OpenTelemetry spans for the API (FastAPI), every
outbound call to Salesforce and respond.io (httpx), the database (SQLAlchemy) and the
worker's jobs.

An incoming W3C `traceparent` is continued: the request's span is its child, and every
outbound call carries a `traceparent` of the same trace, whether or not spans are exported.
Exporting is off by default; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are sent there
over OTLP/HTTP (`/v1/traces`), in batches, each export bounded by a timeout. Log lines carry
the trace id (app.logs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import route_template

# Probes and scrapes are not traced: they would be most of the spans and tell nothing.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
EXPORT_TIMEOUT_SECONDS = 10

_provider: TracerProvider | None = None


def tracer_provider(settings: Settings) -> TracerProvider:
    """The process's one provider, built on first use from these settings (exporting on
    when OTEL_EXPORTER_OTLP_ENDPOINT is set); also the global one, for `tracer()`."""
    global _provider
    if _provider is None:
        provider = TracerProvider(
            resource=Resource.create({"service.name": settings.otel_service_name})
        )
        endpoint = settings.otel_exporter_otlp_endpoint
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(
                endpoint=endpoint.rstrip("/") + "/v1/traces", timeout=EXPORT_TIMEOUT_SECONDS
            )
            provider.add_span_processor(
                BatchSpanProcessor(exporter, export_timeout_millis=EXPORT_TIMEOUT_SECONDS * 1000)
            )
        trace.set_tracer_provider(provider)
        _provider = provider
    return _provider


# URL attributes of the outbound spans (both semantic-convention versions): kept as the
# origin only, since paths and queries hold emails and phones (respond.io's contact
# identifiers, SOQL queries).
URL_ATTRIBUTES = ("http.url", "url.full")
TRACE_HEADERS = (b"traceparent", b"tracestate")
_IDS = RandomIdGenerator()


async def _origin_only(span: Span, request: Any) -> None:
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            parts = urlsplit(value)
            span.set_attribute(key, f"{parts.scheme}://{parts.netloc}")


class _Headers(Getter[dict[str, str]]):
    def get(self, carrier: dict[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: dict[str, str]) -> list[str]:
        return list(carrier)


_HEADERS = _Headers()


class TraceRequests:
    """ASGI middleware, outermost: each request runs in a span that continues the caller's
    W3C `traceparent`, so its log lines, outbound calls and statements belong to that trace.

    Cheaper than the contrib ASGI instrumentation, which more than doubled the CPU of a cached
    lookup: with exporting off the request's span is a non-recording one (the ids alone are
    what propagation and logs need); with exporting on it records the method, the route's
    template (never the raw path: webhook keys are secrets) and the status."""

    def __init__(self, app: ASGIApp, *, tracer: trace.Tracer, recording: bool) -> None:
        self.app = app
        self.tracer = tracer
        self.recording = recording

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in TRACE_HEADERS
        }
        parent = propagate.extract(carrier, getter=_HEADERS) if carrier else Context()
        if not self.recording:
            token = otel_context.attach(trace.set_span_in_context(_placeholder(parent), parent))
            try:
                await self.app(scope, receive, send)
            finally:
                otel_context.detach(token)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = scope["method"]
        with self.tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, attributes={"http.request.method": method}
        ) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


def _placeholder(parent: Context) -> NonRecordingSpan:
    """A span that records nothing: the caller's trace (or a new one) and an id of its own."""
    caller = trace.get_current_span(parent).get_span_context()
    if caller.is_valid:
        return NonRecordingSpan(
            SpanContext(
                caller.trace_id,
                _IDS.generate_span_id(),
                is_remote=False,
                trace_flags=caller.trace_flags,
                trace_state=caller.trace_state,
            )
        )
    return NonRecordingSpan(
        SpanContext(
            _IDS.generate_trace_id(),
            _IDS.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    )


def instrument_app(app: FastAPI, settings: Settings) -> None:
    """A span per request, continuing the caller's `traceparent`. Added last, so that it is
    the outermost middleware and every log line of the request carries the trace."""
    provider = tracer_provider(settings)
    app.add_middleware(
        TraceRequests,
        tracer=provider.get_tracer("app.http"),
        recording=bool(settings.otel_exporter_otlp_endpoint),
    )


def instrument_http(client: httpx.AsyncClient, settings: Settings) -> None:
    """A span per outbound call; the call carries `traceparent` (and `tracestate`)."""
    HTTPXClientInstrumentor.instrument_client(
        client, tracer_provider=tracer_provider(settings), request_hook=_origin_only
    )


def instrument_database(engine: AsyncEngine, settings: Settings) -> None:
    """A span per SQL statement (the statement's text, never its parameters)."""
    tracer = tracer_provider(settings).get_tracer("app.db")
    usage = metrics.get_meter("app.db").create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(tracer, engine.sync_engine, usage)


@contextmanager
def span(name: str, **attributes: str | int) -> Iterator[None]:
    """A span around work that no request started (a worker's job, a reconciliation)."""
    with trace.get_tracer("app.worker").start_as_current_span(name, attributes=attributes):
        yield
