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
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    LOAD_GRACE_SECONDS,
    bench_token,
    connect_workspaces,
    constant_path,
    median_ms,
    median_round,
    percentile_ms,
    read_response_head,
    run_in_process,
    running_replicas,
    salesforce_emulator,
    scratch_database,
    service_env,
)

WORKSPACE = "ws-bench"
ACME = "00D5g000003GIV7EAO"
HOT_EMAIL = "ana.souza@example.com"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=int, default=50)
    options = parser.parse_args()

    with (
        scratch_database("sfint_bench") as database,
        salesforce_emulator() as (emulator, running),
    ):
        env = service_env(database.url, running.url, LOOKUP_CACHE_TTL_SECONDS="600")
        username = emulator.org(ACME).default_user.username
        asyncio.run(connect_workspaces(database.url, running.url, {WORKSPACE: username}))
        with running_replicas(env, 1) as (base_url,):
            headers = {"Authorization": f"Bearer {bench_token(WORKSPACE, 'agent')}"}
            lookup = f"/v1/workspaces/{WORKSPACE}/salesforce/contacts/lookup"
            bare = constant_path(WORKSPACE)

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
            bare_result = median_round(bare_rounds)
            cached = median_round(cached_rounds)
            cached_calls = emulator.counters["api"]

            emulator.latency_ms = options.latency_ms
            emulator.reset_counters()
            cold_paths = [f"{lookup}?email=cold{i}.{database.name}@example.com" for i in range(400)]
            uncached = run_load(
                base_url, headers, cold_paths, seconds=30, concurrency=8, max_requests=400
            )
            uncached_calls = emulator.counters["api"]

            emulator.latency_ms = 0
            emulator.reset_counters()
            mixed_paths = [
                f"{lookup}?email=mix{i % 100}.{database.name}@example.com" for i in range(1000)
            ]
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
            print(
                f"  {'':<28} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'requests':>9} {'errors':>7}"
            )
            print(row("bare endpoint (same auth)", bare_result))
            print(row("cached lookup", cached))
            print(f"  cached / bare requests/s: {cached['rps'] / bare_result['rps']:.2f}")
            print(f"  Salesforce calls during the cached run: {cached_calls}")
            print(
                f"uncached lookup, emulator latency {options.latency_ms} ms, concurrency 8, "
                f"{int(uncached['requests'])} distinct emails:"
            )
            print(
                f"  p50 {uncached['p50_ms']:.1f} ms"
                f" (+{uncached['p50_ms'] - options.latency_ms:.1f} ms"
                f" over the injected latency), p99 {uncached['p99_ms']:.1f} ms,"
                f" Salesforce calls {uncached_calls}, errors {int(uncached['errors'])}"
            )
            per_thousand = mixed_calls * 1000 / max(1, mixed["requests"])
            print(
                f"1,000 concurrent lookups over 100 emails: {mixed_calls} Salesforce calls "
                f"({per_thousand:.0f} per 1,000 lookups), errors {int(mixed['errors'])}"
            )


if __name__ == "__main__":
    main()
