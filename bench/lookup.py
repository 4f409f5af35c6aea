"""Contact lookup benchmark: prints figures, asserts nothing.

Starts the Salesforce emulator (`python -m emulator`, a process of its own, so that its CPU
is measured apart from the service's) and, as separate processes on loopback
with the same uvicorn options (one worker, uvloop, httptools): the service with the
in-process cache, the service with the lookup cache in Redis (CACHE_URL, else
redis://127.0.0.1:6379/0, under a key prefix of its own; skipped when unreachable), and a
minimal FastAPI app returning a pydantic model, the yardstick. PostgreSQL: DATABASE_URL's
server, else 127.0.0.1:5432; the bench creates its own database and drops it at the end.

The load comes from wrk when it is installed (`apt-get install wrk`): one thread, a Lua
script that sets the Authorization header, cycles through the paths and prints exact
p50/p99. Without wrk (or with --python-load) it comes from a small keep-alive HTTP/1.1
client in a separate Python process, which saturates near 2,500 requests/s on two cores
and so hides the service's own cost; the output names the generator used.

Measured:
1. the minimal app, /healthz, a bare endpoint behind the same auth (added only to the
   bench's app instance), cached lookups in-process and with Redis: requests/s, p50, p99;
   cached lookup / minimal app, and Redis / in-process;
2. uncached lookups over the emulator's injected latency (each request a new email), at
   concurrency 1 and 8, with the service's and the emulator's CPU per lookup;
3. Salesforce calls per 1,000 lookups spread over 100 identifiers, issued concurrently;
4. uncached lookups of matching Contacts with the related records (Account, open
   Opportunities, open Cases) on, beside the same lookups with them off: p50/p99 over the
   injected latency and Salesforce calls per lookup (bench/_related.py).

`python bench/lookup.py [--seconds 5] [--rounds 3] [--concurrency 32] [--latency-ms 50]
[--python-load]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings  # noqa: E402
from app.lookup.matching import email_query  # noqa: E402
from bench import _related as related  # noqa: E402
from bench._common import (  # noqa: E402
    LOAD_GRACE_SECONDS,
    UVICORN_FAST,
    WRK_INSTALL_HINT,
    bench_token,
    connect_workspaces,
    constant_path,
    cpu_seconds,
    median_ms,
    median_round,
    minimal_path,
    percentile_ms,
    read_response_head,
    run_in_process,
    run_wrk,
    running_minimal_app,
    running_services,
    salesforce_emulator_process,
    scratch_database,
    service_env,
    wrk_path,
)
from tests.helpers.factories import grant_from_emulator  # noqa: E402

WORKSPACE = "ws-bench"
RELATED_WORKSPACE = "ws-bench-related"
ACME = "00D5g000003GIV7EAO"
HOT_EMAIL = "ana.souza@example.com"
UNCACHED_CONCURRENCY = (1, 8)
UNCACHED_SECONDS = 5.0
# The fields a default workspace's lookup selects (the query the emulator is asked directly).
SELECTED = ("Id", "Name", "Email", "Phone", "MobilePhone", "Title", "LeadSource")


# -- load generation (in a separate process) -------------------------------------------------


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """One HTTP/1.1 keep-alive request; the status code."""
    writer.write(raw)
    status, length = await read_response_head(reader)
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


def run_load(
    base_url: str,
    headers: dict[str, str],
    paths: list[str],
    *,
    seconds: float,
    concurrency: int,
    max_requests: int | None = None,
) -> dict[str, float]:
    latencies, errors = run_in_process(
        _load,
        (base_url, headers, paths, seconds, concurrency, max_requests),
        timeout=seconds + LOAD_GRACE_SECONDS,
    )
    elapsed = -latencies.pop()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": median_ms(latencies),
        "p99_ms": percentile_ms(latencies, 0.99),
    }


def _redis(url: str) -> tuple[redis.Redis | None, str]:
    """A client for `url` and its version, or None and why not."""
    store = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return store, str(store.info("server")["redis_version"])
    except redis.RedisError as exc:
        store.close()
        return None, f"{type(exc).__name__}: {exc}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--python-load", action="store_true", help="use the Python load generator even with wrk"
    )
    options = parser.parse_args()
    use_wrk = wrk_path() is not None and not options.python_load

    def load(
        base_url: str,
        paths: list[str],
        *,
        seconds: float,
        concurrency: int,
        authorization: str | None = None,
    ) -> dict[str, float]:
        if use_wrk:
            return run_wrk(
                base_url,
                paths,
                seconds=seconds,
                concurrency=concurrency,
                authorization=authorization,
            )
        headers = {"Authorization": authorization} if authorization else {}
        return run_load(base_url, headers, paths, seconds=seconds, concurrency=concurrency)

    cache_url = os.environ.get("CACHE_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"sfint-lookup-{uuid.uuid4().hex[:8]}:"
    store, redis_version = _redis(cache_url)

    with (
        scratch_database("sfint_bench") as database,
        salesforce_emulator_process() as emulator,
        ExitStack() as stack,
    ):
        env = service_env(database.url, emulator.url, LOOKUP_CACHE_TTL_SECONDS="600")
        username = emulator.default_username(ACME)
        workspaces = {WORKSPACE: username, RELATED_WORKSPACE: username}
        asyncio.run(connect_workspaces(database.url, emulator.url, workspaces))
        (service,) = stack.enter_context(running_services(env, 1, UVICORN_FAST))
        base_url = service.url
        related.turn_related_on(base_url, RELATED_WORKSPACE)
        redis_url: str | None = None
        if store is not None:
            stack.callback(_forget_keys, store, prefix)
            redis_env = {**env, "CACHE_URL": cache_url, "CACHE_KEY_PREFIX": prefix}
            (redis_service,) = stack.enter_context(running_services(redis_env, 1, UVICORN_FAST))
            redis_url = redis_service.url
        minimal_url = stack.enter_context(running_minimal_app(UVICORN_FAST))

        authorization = f"Bearer {bench_token(WORKSPACE, 'agent')}"
        lookup = f"/v1/workspaces/{WORKSPACE}/salesforce/contacts/lookup"
        hot = f"{lookup}?email={HOT_EMAIL}"
        for url in filter(None, (base_url, redis_url)):
            warm = httpx.get(url + hot, headers={"Authorization": authorization})
            assert warm.status_code == 200, warm.text  # set-up, not a measurement
        emulator.reset_counters()

        seconds, concurrency = options.seconds, options.concurrency
        targets: dict[str, tuple[str, str, str | None]] = {
            "minimal FastAPI app": (minimal_url, minimal_path(WORKSPACE), None),
            "service /healthz": (base_url, "/healthz", None),
            "bare endpoint (same auth)": (base_url, constant_path(WORKSPACE), authorization),
            "cached lookup, in-process": (base_url, hot, authorization),
        }
        if redis_url is not None:
            targets["cached lookup, Redis"] = (redis_url, hot, authorization)
        for url, path, auth in targets.values():  # warm-up
            load(url, [path], seconds=1, concurrency=concurrency, authorization=auth)
        # Alternate the targets round by round so that noise from other work on the machine
        # hits them all alike; report each one's median round.
        rounds: dict[str, list[dict[str, float]]] = {label: [] for label in targets}
        for _ in range(options.rounds):
            for label, (url, path, auth) in targets.items():
                rounds[label].append(
                    load(url, [path], seconds=seconds, concurrency=concurrency, authorization=auth)
                )
        results = {label: median_round(r) for label, r in rounds.items()}
        cached_calls = emulator.counters().get("api", 0)

        emulator.set(latency_ms=options.latency_ms)
        uncached: dict[int, dict[str, float]] = {}
        batch = 0
        for uncached_concurrency in UNCACHED_CONCURRENCY:
            batch += 1
            emulator.reset_counters()
            # Each request takes at least the injected latency: more distinct emails than
            # can be asked in the time, so none is asked twice.
            most = uncached_concurrency * UNCACHED_SECONDS * 1000 / max(1, options.latency_ms)
            cold_paths = [
                f"{lookup}?email=cold{batch}.{i}.{database.name}@example.com"
                for i in range(int(most) + uncached_concurrency)
            ]
            cpu_before = cpu_seconds(service.pid), cpu_seconds(emulator.pid)
            figures = load(
                base_url,
                cold_paths,
                seconds=UNCACHED_SECONDS,
                concurrency=uncached_concurrency,
                authorization=authorization,
            )
            # wrk stops at its time bound without waiting for the requests in flight: let
            # the service finish them before counting, or they land in the next run's count.
            time.sleep(1 + options.latency_ms / 1000)
            calls = emulator.counters().get("api", 0)
            cpu_after = cpu_seconds(service.pid), cpu_seconds(emulator.pid)
            served = max(1, calls)
            figures["calls"] = calls
            figures["service_cpu_ms"] = (cpu_after[0] - cpu_before[0]) * 1000 / served
            figures["emulator_cpu_ms"] = (cpu_after[1] - cpu_before[1]) * 1000 / served
            uncached[uncached_concurrency] = figures

        whole_customer = related.measure(
            load,
            emulator,
            base_url,
            {
                "related records off (as before)": WORKSPACE,
                "Account, Opportunities, Cases on": (RELATED_WORKSPACE),
            },
            seconds=UNCACHED_SECONDS,
            latency_ms=options.latency_ms,
        )

        # The same kind of query sent to the emulator directly, with no service in between:
        # what the emulator and the machine add on their own.
        grant = asyncio.run(grant_from_emulator(emulator.url, username))
        api = Settings(_env_file=None, environment="development").salesforce_api_version  # type: ignore[call-arg]
        direct: dict[int, dict[str, float]] = {}
        for level in UNCACHED_CONCURRENCY:
            batch += 1
            most = level * UNCACHED_SECONDS * 1000 / max(1, options.latency_ms)
            soql = [
                email_query("Contact", SELECTED, f"direct{batch}.{i}@example.com")
                for i in range(int(most) + level)
            ]
            direct[level] = load(
                emulator.url,
                [f"/services/data/{api}/query?q={quote(q, safe='')}" for q in soql],
                seconds=UNCACHED_SECONDS,
                concurrency=level,
                authorization=f"Bearer {grant['access_token']}",
            )
            time.sleep(1 + options.latency_ms / 1000)

        emulator.set(latency_ms=0)
        emulator.reset_counters()
        mixed_paths = [
            f"{lookup}?email=mix{i % 100}.{database.name}@example.com" for i in range(1000)
        ]
        mixed = run_load(
            base_url,
            {"Authorization": authorization},
            mixed_paths,
            seconds=60,
            concurrency=50,
            max_requests=1000,
        )
        mixed_calls = emulator.counters().get("api", 0)

    generator = (
        "wrk (1 thread, keep-alive)"
        if use_wrk
        else "the Python load generator (1 process, keep-alive HTTP/1.1; it saturates near "
        f"2,500 requests/s on two cores and hides the service's own cost; {WRK_INSTALL_HINT})"
    )
    print(
        f"machine: {os.cpu_count()} CPUs; each app: 1 uvicorn worker, uvloop + httptools; "
        f"load: {generator}, concurrency {concurrency}; median of {options.rounds} "
        f"alternating {seconds:.0f} s rounds"
    )
    if redis_url is None:
        print(f"  Redis at {cache_url} unavailable ({redis_version}): no Redis figures")
    else:
        print(f"  Redis {redis_version} at {cache_url}")

    def row(label: str, r: dict[str, float]) -> str:
        return (
            f"  {label:<28} {r['rps']:>9.0f} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f}"
            f" {int(r['requests']):>9} {int(r['errors']):>7}"
        )

    print(f"  {'':<28} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'requests':>9} {'errors':>7}")
    for label, result in results.items():
        print(row(label, result))
    minimal = results["minimal FastAPI app"]["rps"]
    cached = results["cached lookup, in-process"]["rps"]
    print(f"  cached lookup (in-process) / minimal FastAPI app: {cached / minimal:.2f}")
    bare = results["bare endpoint (same auth)"]["rps"]
    print(f"  bare endpoint / minimal FastAPI app: {bare / minimal:.2f}")
    if "cached lookup, Redis" in results:
        shared = results["cached lookup, Redis"]["rps"]
        print(f"  cached lookup, Redis / cached lookup, in-process: {shared / cached:.2f}")
    print(f"  Salesforce calls during the cached runs: {cached_calls}")
    print(
        f"uncached lookup, emulator latency {options.latency_ms} ms (the emulator in a process"
        f" of its own), {UNCACHED_SECONDS:.0f} s per concurrency, each request a new email:"
    )
    for level, figures in uncached.items():
        print(
            f"  concurrency {level}: p50 {figures['p50_ms']:.1f} ms"
            f" (+{figures['p50_ms'] - options.latency_ms:.1f} ms over the injected latency),"
            f" p99 {figures['p99_ms']:.1f} ms (+{figures['p99_ms'] - options.latency_ms:.1f} ms),"
            f" {figures['rps']:.0f} req/s, Salesforce calls {figures['calls']},"
            f" errors {int(figures['errors'])}"
        )
        alone = direct[level]
        print(
            f"    where the time went: the emulator asked directly (the same query, no"
            f" service) answers in p50 {alone['p50_ms']:.1f} ms"
            f" (+{alone['p50_ms'] - options.latency_ms:.1f} ms), p99 {alone['p99_ms']:.1f} ms;"
            f" the service adds p50 {figures['p50_ms'] - alone['p50_ms']:+.1f} ms."
            f" CPU per lookup: service {figures['service_cpu_ms']:.2f} ms,"
            f" emulator {figures['emulator_cpu_ms']:.2f} ms; the rest is waiting for one of"
            f" the {os.cpu_count()} CPUs (shared with the load generator, PostgreSQL, Redis)"
        )
    related.report(whole_customer, options.latency_ms)
    per_thousand = mixed_calls * 1000 / max(1, mixed["requests"])
    print(
        f"1,000 concurrent lookups over 100 emails (Python load generator): {mixed_calls} "
        f"Salesforce calls ({per_thousand:.0f} per 1,000 lookups), errors {int(mixed['errors'])}"
    )


def _forget_keys(store: redis.Redis, prefix: str) -> None:
    names = list(store.scan_iter(match=prefix + "*", count=1000))
    if names:
        store.unlink(*names)
    store.close()


if __name__ == "__main__":
    main()
