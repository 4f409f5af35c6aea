"""Edit visibility across two replicas sharing Redis: prints figures, asserts nothing.

Two service replicas (uvicorn processes, the same options as `bench/lookup.py`) share Redis
(CACHE_URL, else redis://127.0.0.1:6379/0, under a key prefix of their own) and PostgreSQL;
the Salesforce emulator runs in a process of its own. Both replicas hold Ana's answer in their
near cache (app.workspace.near_cache). Then, `--edits` times, alternating the replicas:

1. one replica edits Ana's Title (PATCH, acknowledged);
2. at once, the same replica is asked for Ana: does it show the new Title? (it must, always);
3. the other replica is asked back to back until it shows the new Title: the delay is from
   the edit's acknowledgement to the sending of the first answer that shows it (so one
   lookup's round trip is not counted).

Printed: the editing replica's misses (expected 0), the other replica's delay p50/p99/max,
how many of its answers came from the cache, and the bound for a lost invalidation message
(LOOKUP_NEAR_CACHE_TTL_SECONDS). Needs Redis; skipped (with a message) without one.

`python bench/edit_visibility.py [--edits 200]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    UVICORN_FAST,
    bench_token,
    connect_workspaces,
    median_ms,
    percentile_ms,
    running_replicas,
    salesforce_emulator_process,
    scratch_database,
    service_env,
)

WORKSPACE = "ws-visibility"
ACME = "00D5g000003GIV7EAO"
ANA = "0035g0000006SevAAE"
ANA_EMAIL = "ana.souza@example.com"
NEAR_TTL_SECONDS = "1.0"


def _title(answer: dict[str, Any]) -> str | None:
    contact = answer.get("contact") or {}
    for field in contact.get("fields", []):
        if field["name"] == "Title":
            return field["value"]  # type: ignore[no-any-return]
    return None


LOOKUP = f"/v1/workspaces/{WORKSPACE}/salesforce/contacts/lookup"


async def _title_on(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(LOOKUP, params={"email": ANA_EMAIL}, headers=headers)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def _first_showing(
    reader: httpx.AsyncClient, headers: dict[str, str], title: str, acknowledged: float
) -> tuple[float, int, bool]:
    """Ask back to back until the answer shows `title`: (delay from `acknowledged` to the
    sending of that answer's request, lookups asked, whether it came from the cache)."""
    polls = 0
    while True:
        sent = time.perf_counter()
        answer = await _title_on(reader, headers)
        polls += 1
        if _title(answer) == title:
            return sent - acknowledged, polls, bool(answer.get("cached"))
        if sent - acknowledged > 10.0:
            raise RuntimeError("the other replica never showed the edit")


async def _shows(writer: httpx.AsyncClient, headers: dict[str, str], title: str) -> bool:
    return _title(await _title_on(writer, headers)) == title


async def _measure(urls: list[str], edits: int) -> dict[str, Any]:
    agent = {"Authorization": f"Bearer {bench_token(WORKSPACE, 'agent')}"}
    owner = {"Authorization": f"Bearer {bench_token(WORKSPACE, 'owner')}"}
    clients = [httpx.AsyncClient(base_url=url, timeout=10) for url in urls]
    try:
        settings = await clients[0].put(
            f"/v1/workspaces/{WORKSPACE}/salesforce/settings",
            headers=owner,
            json={
                "visible_fields": ["Name", "Email", "Title"],
                "editing_enabled": True,
                "phone_matching": "exact",
                "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
            },
        )
        settings.raise_for_status()
        for client in clients:
            await _title_on(client, agent)

        delays: list[float] = []
        same_replica_misses = polls = cached_answers = 0
        for i in range(edits):
            writer, reader = (clients[0], clients[1]) if i % 2 == 0 else (clients[1], clients[0])
            title = f"Visibility {i} {uuid.uuid4().hex[:6]}"
            edited = await writer.patch(
                f"/v1/workspaces/{WORKSPACE}/salesforce/contacts/{ANA}",
                json={"fields": {"Title": title}},
                headers=agent,
            )
            edited.raise_for_status()
            acknowledged = time.perf_counter()
            (delay, asked, cached), shown = await asyncio.gather(
                _first_showing(reader, agent, title, acknowledged), _shows(writer, agent, title)
            )
            delays.append(max(0.0, delay))
            polls += asked
            cached_answers += cached
            same_replica_misses += not shown
        return {
            "delays": delays,
            "same_replica_misses": same_replica_misses,
            "polls": polls,
            "cached_answers": cached_answers,
        }
    finally:
        for client in clients:
            await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=200)
    options = parser.parse_args()

    cache_url = os.environ.get("CACHE_URL") or "redis://127.0.0.1:6379/0"
    store = redis.Redis.from_url(cache_url, socket_timeout=2)
    try:
        store.ping()
    except redis.RedisError as exc:
        print(f"edit visibility: no Redis at {cache_url} ({type(exc).__name__}): skipped")
        return
    prefix = f"sfint-visibility-{uuid.uuid4().hex[:8]}:"
    try:
        with (
            scratch_database("sfint_bench_vis") as database,
            salesforce_emulator_process() as emulator,
        ):
            username = emulator.default_username(ACME)
            asyncio.run(connect_workspaces(database.url, emulator.url, {WORKSPACE: username}))
            env = service_env(
                database.url,
                emulator.url,
                CACHE_URL=cache_url,
                CACHE_KEY_PREFIX=prefix,
                LOOKUP_NEAR_CACHE_TTL_SECONDS=NEAR_TTL_SECONDS,
                LOG_LEVEL="WARNING",
            )
            with running_replicas(env, 2, UVICORN_FAST) as urls:
                result = asyncio.run(_measure(urls, options.edits))
    finally:
        names = list(store.scan_iter(match=prefix + "*", count=1000))
        if names:
            store.unlink(*names)
        store.close()

    delays = result["delays"]
    print(
        f"edit visibility across 2 replicas sharing Redis (near cache TTL {NEAR_TTL_SECONDS} s), "
        f"{len(delays)} edits alternating the replicas:"
    )
    print(
        f"  the editing replica's next lookup missed the edit: {result['same_replica_misses']}"
        f" of {len(delays)}"
    )
    p50, p99 = median_ms(delays), percentile_ms(delays, 0.99)
    print(
        f"  the other replica: p50 {p50:.2f} ms, p99 {p99:.2f} ms,"
        f" max {max(delays) * 1000:.2f} ms from the edit's acknowledgement to the first"
        f" lookup showing it ({result['polls']} lookups; {result['cached_answers']} of"
        f" {len(delays)} first answers showing it came from the cache)"
    )
    print(
        f"  bound when the invalidation message is lost: {NEAR_TTL_SECONDS} s"
        " (LOOKUP_NEAR_CACHE_TTL_SECONDS; never served past it)"
    )


if __name__ == "__main__":
    main()
