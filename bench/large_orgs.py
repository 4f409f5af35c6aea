"""Lookups in an org whose Contact table is too large for an OR: prints figures, asserts
nothing.

The Salesforce emulator (a process of its own, `--latency-ms` on every call, as a real org
is far away) and one service replica (uvicorn, the options of `bench/lookup.py`). Each lookup
gives a new email and a new phone (never cached, nobody matches: every step runs), asked one
after another:

1. a normal org: the email-or-recent-phone query is one call;
2. the same org with Contact marked large (`/__emulator/orgs/{org}/large-tables`): that query
   answers QUERY_TIMEOUT; the first lookup pays the timed-out call and then the two halves,
   the next ones split at once (the service remembers the org's object for an hour).

Printed per mode: Contact queries and REST calls per lookup (from the emulator's counters)
and latency p50/p99.

`python bench/large_orgs.py [--lookups 200] [--latency-ms 50]`
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    UVICORN_FAST,
    EmulatorProcess,
    bench_token,
    connect_workspaces,
    median_ms,
    percentile_ms,
    running_replicas,
    salesforce_emulator_process,
    scratch_database,
    service_env,
)

WORKSPACE = "ws-large-orgs"
ACME = "00D5g000003GIV7EAO"
LOOKUP = f"/v1/workspaces/{WORKSPACE}/salesforce/contacts/lookup"


async def _lookups(url: str, mode: str, count: int) -> list[float]:
    headers = {"Authorization": f"Bearer {bench_token(WORKSPACE, 'agent')}"}
    took: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(count):
            params = {"email": f"{mode}.{i}@nobody.example", "phone": f"+1 555 {i:07d}"}
            started = time.perf_counter()
            response = await client.get(LOOKUP, params=params, headers=headers)
            took.append(time.perf_counter() - started)
            response.raise_for_status()
            if response.json()["matched"]:
                raise RuntimeError("a bench identifier matched a Contact")
    return took


def _large(emulator: EmulatorProcess, objects: list[str]) -> None:
    response = httpx.put(
        f"{emulator.url}/__emulator/orgs/{ACME}/large-tables", json={"objects": objects}
    )
    response.raise_for_status()


def _measure(emulator: EmulatorProcess, url: str, mode: str, count: int) -> dict[str, Any]:
    emulator.reset_counters()
    took = asyncio.run(_lookups(url, mode, count))
    counters = emulator.counters()
    return {"took": took, "contact": counters.get("query.Contact", 0), "api": counters["api"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    options = parser.parse_args()

    with (
        scratch_database("sfint_bench_large") as database,
        salesforce_emulator_process() as emulator,
    ):
        username = emulator.default_username(ACME)
        asyncio.run(connect_workspaces(database.url, emulator.url, {WORKSPACE: username}))
        env = service_env(database.url, emulator.url, LOG_LEVEL="WARNING")
        with running_replicas(env, 1, UVICORN_FAST) as [url]:
            asyncio.run(_lookups(url, "warm", 3))  # describe fetched, connections open
            emulator.set(latency_ms=options.latency_ms)
            normal = _measure(emulator, url, "normal", options.lookups)
            _large(emulator, ["Contact"])
            large = _measure(emulator, url, "large", options.lookups)

    print(
        f"lookups by a new email and phone (no match), one after another, emulator latency "
        f"{options.latency_ms} ms, {options.lookups} per mode:"
    )
    for name, result in (("normal org", normal), ("Contact table large (QUERY_TIMEOUT)", large)):
        took, n = result["took"], len(result["took"])
        print(
            f"  {name}: {result['contact'] / n:.3f} Contact queries and {result['api'] / n:.3f}"
            f" REST calls per lookup ({result['contact']} and {result['api']} in all);"
            f" p50 {median_ms(took):.1f} ms, p99 {percentile_ms(took, 0.99):.1f} ms"
        )


if __name__ == "__main__":
    main()
