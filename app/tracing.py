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

import httpx
from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings

# Probes and scrapes are not traced: they would be most of the spans and tell nothing.
UNTRACED_URLS = "/healthz,/readyz,/metrics"
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


# URL attributes of both semantic-convention versions: kept without their query string,
# which holds emails and phones (a lookup's, a SOQL query's).
URL_ATTRIBUTES = ("http.url", "url.full", "http.target")


def _without_queries(span: Span) -> None:
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def _server_hook(span: Span, scope: dict[str, Any]) -> None:
    _without_queries(span)


async def _client_hook(span: Span, request: Any) -> None:
    _without_queries(span)


def instrument_app(app: FastAPI, settings: Settings) -> None:
    """A span per request, continuing the caller's `traceparent`."""
    FastAPIInstrumentor.instrument_app(
        app,
        server_request_hook=_server_hook,
        tracer_provider=tracer_provider(settings),
        excluded_urls=UNTRACED_URLS,
        # The ASGI receive and send steps as spans of their own would double the spans.
        exclude_spans=["receive", "send"],
    )


def instrument_http(client: httpx.AsyncClient, settings: Settings) -> None:
    """A span per outbound call; the call carries `traceparent` (and `tracestate`)."""
    HTTPXClientInstrumentor.instrument_client(
        client, tracer_provider=tracer_provider(settings), request_hook=_client_hook
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
