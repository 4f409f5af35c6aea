"""The cost of tracing a request: prints figures, asserts nothing.

In process, without sockets: a trivial FastAPI endpoint (a path parameter, a small JSON
answer) called straight through ASGI, alone and behind the service's tracing middleware
(app.tracing.TraceRequests) with exporting off (the request's span records nothing: its ids
are what propagation and the logs need) and on (a recording span, sent nowhere here), each
with and without an incoming `traceparent`. Printed: µs per request, the best of `--runs`
runs of `--requests` requests (the best, because other processes share the CPUs).

`python bench/tracing.py [--requests 4000] [--runs 9]`
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastapi import FastAPI  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

from app.main import NO_FASTAPI_TELEMETRY  # noqa: E402
from app.tracing import TraceRequests  # noqa: E402

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def endpoint() -> FastAPI:
    app = FastAPI(telemetry=NO_FASTAPI_TELEMETRY)

    @app.get("/v1/items/{item}")
    async def item(item: str) -> dict[str, str]:
        return {"item": item}

    return app


async def per_request(app: Any, requests: int, traceparent: bool) -> float:
    headers = [(b"host", b"bench")]
    if traceparent:
        headers.append((b"traceparent", TRACEPARENT))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/items/1",
        "raw_path": b"/v1/items/1",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    for _ in range(200):
        await app(dict(scope), receive, send)
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def main(requests: int, runs: int) -> None:
    tracer = TracerProvider().get_tracer("bench")
    apps = {
        "endpoint alone": endpoint(),
        "TraceRequests, exporting off": TraceRequests(endpoint(), tracer=tracer, recording=False),
        "TraceRequests, exporting on": TraceRequests(endpoint(), tracer=tracer, recording=True),
    }
    print(f"µs per request, best of {runs} runs of {requests:,} requests (in process, ASGI)")
    print(f"  {'':32} {'no traceparent':>15} {'traceparent':>12}")
    for label, app in apps.items():
        alone = min([await per_request(app, requests, False) for _ in range(runs)])
        continued = min([await per_request(app, requests, True) for _ in range(runs)])
        print(f"  {label:32} {alone:15.1f} {continued:12.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.runs))
