"""With OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported over OTLP/HTTP: the request's
span continues the caller's trace, SQL statements are spans of it, and no query string (an
email) leaves the process. The tracer provider is one per process, so the service runs in a
process of its own, exporting to a collector stand-in that records what it receives."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SERVICE = """
import asyncio, sys
import httpx
from opentelemetry import trace
from app.auth import mint_token
from app.config import Settings
from app.main import create_app

settings = Settings(
    _env_file=None, environment="test", database_url=sys.argv[1],
    public_base_url="http://testserver", otel_exporter_otlp_endpoint=sys.argv[2],
    otel_service_name="sfint-under-test",
)
app = create_app(settings)
token = mint_token(settings, workspace_id="ws-1", role="owner", user_id="u-1")
headers = {
    "Authorization": f"Bearer {token}",
    "traceparent": f"00-{sys.argv[3]}-b7ad6b7169203331-01",
}

async def main() -> None:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            base = "/v1/workspaces/ws-1/salesforce"
            assert (await c.get(f"{base}/connection", headers=headers)).status_code == 200
            looked = await c.get(
                f"{base}/contacts/lookup?email=priya.secret%40example.com", headers=headers
            )
            assert looked.status_code == 409, looked.text
    assert trace.get_tracer_provider().force_flush(10_000)

asyncio.run(main())
"""


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the handler's protocol
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_spans_are_exported_only_where_the_endpoint_says(database_url: str, collector: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SERVICE, database_url, collector, TRACE_ID],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert Collector.received, "nothing was exported"
    assert {path for path, _ in Collector.received} == {"/v1/traces"}
    exported = b"".join(body for _, body in Collector.received)
    assert bytes.fromhex(TRACE_ID) in exported  # the caller's trace, continued
    assert b"sfint-under-test" in exported  # OTEL_SERVICE_NAME
    assert b"SELECT" in exported  # SQL statements are spans of the request
    # Routes by their template: raw paths hold workspace ids and webhook keys.
    assert b"/v1/workspaces/{workspace_id}/salesforce/contacts/lookup" in exported
    assert b"/v1/workspaces/ws-1/" not in exported
    at = exported.find(b"priya")
    assert at == -1, repr(exported[max(0, at - 700) : at + 100]).replace("\\n", " ")
