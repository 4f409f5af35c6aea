"""Contact lookup benchmark: prints figures, asserts nothing.

Starts the Salesforce emulator (in this process) and the service (uvicorn, one worker, a
separate process, on loopback) against a real PostgreSQL: DATABASE_URL's server, else
127.0.0.1:5432. It creates its own database and drops it at the end. The load comes from a
separate process (a minimal keep-alive HTTP/1.1 client, fixed concurrency and duration).

Measured:
1. cached lookups vs a bare endpoint of the same app that returns a constant behind the
   same auth (added only to the bench's app instance): requests/s, p50, p99, and the ratio;
2. uncached lookups over the emulator's injected latency (each request a new email);
3. Salesforce calls per 1,000 lookups spread over 100 identifiers, issued concurrently.

`python bench/lookup.py [--seconds 3] [--rounds 3] [--concurrency 32] [--latency-ms 50]`
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.auth import AnyMember, mint_token  # noqa: E402
from app.config import Settings  # noqa: E402
from app.crypto import TokenCipher  # noqa: E402
from app.db import Database  # noqa: E402
from app.health import alembic_config  # noqa: E402
from emulator.salesforce import SalesforceEmulator  # noqa: E402
from emulator.salesforce import create_app as create_emulator_app  # noqa: E402
from emulator.server import start_in_thread  # noqa: E402
from tests.factories import grant_from_emulator, insert_connection  # noqa: E402

WORKSPACE = "ws-bench"
ACME = "00D5g000003GIV7EAO"
HOT_EMAIL = "ana.souza@example.com"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def bench_app() -> Any:
    """The service plus a constant endpoint behind the same auth (bench only)."""
    from app.main import create_app

    app = create_app()

    @app.get("/v1/workspaces/{workspace_id}/bench/constant")
    async def constant(caller: AnyMember) -> dict[str, Any]:
        return {"ok": True, "workspace_id": caller.workspace_id}

    return app


# -- load generation (in a separate process) -------------------------------------------------


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """One HTTP/1.1 keep-alive request; the status code. A tiny client: httpx itself would
    be the bottleneck at these rates on a small machine."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _load(
    base_url: str,
    headers: dict[str, str],
    paths: list[str],
    seconds: float,
    concurrency: int,
    max_requests: int | None,
) -> tuple[list[float], int]:
    host, port = base_url.split("://", 1)[1].split(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode() for path in paths
    ]
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal issued, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline and (
                max_requests is None or issued < max_requests
            ):
                raw = requests[issued % len(requests)]
                issued += 1
                start = time.perf_counter()
                status = await _request(reader, writer, raw)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.append(-elapsed)  # the wall time travels back as a negative sentinel
    return latencies, errors


def _load_process(args: tuple[Any, ...], queue: Any) -> None:
    queue.put(asyncio.run(_load(*args)))


def run_load(
    base_url: str,
    headers: dict[str, str],
    paths: list[str],
    *,
    seconds: float,
    concurrency: int,
    max_requests: int | None = None,
) -> dict[str, float]:
    queue: Any = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(
        target=_load_process,
        args=((base_url, headers, paths, seconds, concurrency, max_requests), queue),
    )
    process.start()
    latencies, errors = queue.get(timeout=seconds + 120)
    process.join(10)
    elapsed = -latencies.pop()
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


# -- set-up -------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _migrate(url: str) -> None:
    from alembic import command

    errors: list[BaseException] = []

    def target() -> None:
        try:
            config = alembic_config(url)
            config.attributes["configure_logger"] = False
            command.upgrade(config, "head")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def _connect_workspace(env: dict[str, str], emulator_url: str) -> None:
    settings = Settings(_env_file=None, environment="development", database_url=env["DATABASE_URL"])  # type: ignore[call-arg]
    db = Database(settings.async_database_url, pool_size=2)
    try:
        org = SalesforceEmulator().org(ACME)
        grant = await grant_from_emulator(emulator_url, org.default_user.username)
        await insert_connection(
            db, TokenCipher(settings.encryption_keys), WORKSPACE, grant, login_url=emulator_url
        )
    finally:
        await db.dispose()


def _wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the service exited during start-up")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=int, default=50)
    options = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    server_url = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"sfint_bench_{uuid.uuid4().hex[:10]}"
    database_url = server_url.rsplit("/", 1)[0] + "/" + name
    asyncpg_url = database_url.replace("postgresql://", "postgresql+asyncpg://", 1)

    emulator = SalesforceEmulator()
    running = start_in_thread(create_emulator_app(emulator))
    emulator.base_url = running.url
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    service: subprocess.Popen[bytes] | None = None
    try:
        _migrate(asyncpg_url)
        port = _free_port()
        env = {
            **os.environ,
            "ENVIRONMENT": "development",
            "DATABASE_URL": asyncpg_url,
            "SALESFORCE_LOGIN_URL": running.url,
            "SALESFORCE_SANDBOX_LOGIN_URL": running.url,
            "SALESFORCE_EXTRA_ALLOWED_HOSTS": running.url.split("://", 1)[1],
            "LOOKUP_CACHE_TTL_SECONDS": "600",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        asyncio.run(_connect_workspace(env, running.url))
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.lookup:bench_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url, service)
        settings = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
        token = mint_token(settings, workspace_id=WORKSPACE, role="agent", user_id="bench")
        headers = {"Authorization": f"Bearer {token}"}
        lookup = f"/v1/workspaces/{WORKSPACE}/salesforce/contacts/lookup"
        bare = f"/v1/workspaces/{WORKSPACE}/bench/constant"

        warm = httpx.get(base_url + lookup, params={"email": HOT_EMAIL}, headers=headers)
        assert warm.status_code == 200, warm.text  # set-up, not a measurement
        emulator.reset_counters()

        hot = f"{lookup}?email={HOT_EMAIL}"
        seconds, concurrency = options.seconds, options.concurrency
        run_load(base_url, headers, [bare, hot], seconds=1, concurrency=concurrency)  # warm-up
        # Alternate the two so that noise from other work on the machine hits both alike;
        # report each one's median round.
        bare_rounds, cached_rounds = [], []
        for _ in range(options.rounds):
            bare_rounds.append(
                run_load(base_url, headers, [bare], seconds=seconds, concurrency=concurrency)
            )
            cached_rounds.append(
                run_load(base_url, headers, [hot], seconds=seconds, concurrency=concurrency)
            )
        bare_result = sorted(bare_rounds, key=lambda r: r["rps"])[len(bare_rounds) // 2]
        cached = sorted(cached_rounds, key=lambda r: r["rps"])[len(cached_rounds) // 2]
        cached_calls = emulator.counters["api"]

        emulator.latency_ms = options.latency_ms
        emulator.reset_counters()
        cold_paths = [f"{lookup}?email=cold{i}.{name}@example.com" for i in range(400)]
        uncached = run_load(
            base_url, headers, cold_paths, seconds=30, concurrency=8, max_requests=400
        )
        uncached_calls = emulator.counters["api"]

        emulator.latency_ms = 0
        emulator.reset_counters()
        mixed_paths = [f"{lookup}?email=mix{i % 100}.{name}@example.com" for i in range(1000)]
        mixed = run_load(
            base_url, headers, mixed_paths, seconds=60, concurrency=50, max_requests=1000
        )
        mixed_calls = emulator.counters["api"]

        def row(label: str, r: dict[str, float]) -> str:
            return (
                f"  {label:<28} {r['rps']:>9.0f} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f}"
                f" {int(r['requests']):>9} {int(r['errors']):>7}"
            )

        print(
            f"machine: {os.cpu_count()} CPUs; service: 1 uvicorn worker; load: 1 process, "
            f"keep-alive HTTP/1.1, concurrency {concurrency}; median of {options.rounds} "
            f"alternating {seconds:.0f} s rounds"
        )
        print(f"  {'':<28} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'requests':>9} {'errors':>7}")
        print(row("bare endpoint (same auth)", bare_result))
        print(row("cached lookup", cached))
        print(f"  cached / bare requests/s: {cached['rps'] / bare_result['rps']:.2f}")
        print(f"  Salesforce calls during the cached run: {cached_calls}")
        print(
            f"uncached lookup, emulator latency {options.latency_ms} ms, concurrency 8, "
            f"{int(uncached['requests'])} distinct emails:"
        )
        print(
            f"  p50 {uncached['p50_ms']:.1f} ms (+{uncached['p50_ms'] - options.latency_ms:.1f} ms"
            f" over the injected latency), p99 {uncached['p99_ms']:.1f} ms,"
            f" Salesforce calls {uncached_calls}, errors {int(uncached['errors'])}"
        )
        per_thousand = mixed_calls * 1000 / max(1, mixed["requests"])
        print(
            f"1,000 concurrent lookups over 100 emails: {mixed_calls} Salesforce calls "
            f"({per_thousand:.0f} per 1,000 lookups), errors {int(mixed['errors'])}"
        )
    finally:
        if service is not None:
            service.terminate()
            try:
                service.wait(10)
            except subprocess.TimeoutExpired:
                service.kill()
        running.stop()
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
