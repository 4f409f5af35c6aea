"""Scale-out load test: two replicas sharing Redis behave like one. Prints figures.

Starts the Salesforce emulator (a thread of this process), creates its own PostgreSQL
database (DATABASE_URL's server, else 127.0.0.1:5432) and drops it at the end, uses the Redis
at CACHE_URL (default redis://127.0.0.1:6379/0) under a key prefix of its own, and runs two
replicas of the service (uvicorn subprocesses on loopback ports, uvloop + httptools, one
worker each). Two workspaces are connected (the emulator's OAuth flow) to two different orgs
that both hold the same 5,000 emails, so a cache that mixed workspaces would show it.

Measured:
1. a cached lookup against a bare endpoint of the same app behind the same auth (mounted
   only in this bench's app instance): requests/s, p50, p99 and their ratio;
2. a realistic mix (90% lookups over the 5,000 emails, Zipf-skewed, in either workspace;
   5% settings reads; 5% edits of a contact's Title), the same request sequence against
   one replica and then round-robin against both: requests/s, latency, Salesforce queries
   per 1,000 lookups next to the distinct (workspace, email) pairs asked, 5xx, answers
   naming a contact of another workspace's org, and lookups issued after an edit was
   acknowledged that did not show it (on whichever replica they reached). Each replica's
   near cache (app.workspace.near_cache) learns of an edit made through the other over the
   purge bus, so a lookup sent within that delivery delay (bench/edit_visibility.py measures
   it) may still show the value before the edit: the count says how often that happened.

`python bench/load.py [--requests 3000] [--seconds 20] [--concurrency 32]`
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    LOAD_GRACE_SECONDS,
    UVICORN_FAST,
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
from emulator.salesforce import SalesforceEmulator  # noqa: E402

ORGS = {"ws-load-a": "00D5g000003GIV7EAO", "ws-load-b": "00D8c000003VlcBEAS"}  # Acme, Globex
IDENTIFIERS = 5_000
ZIPF_S = 1.1
HOT_SET = 100
SETTINGS_DOCUMENT = {
    "visible_fields": ["Name", "Email", "Phone", "Title", "LeadSource"],
    "editing_enabled": True,
    "phone_matching": "exact",
    "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
}


def email(index: int) -> str:
    return f"load{index:05d}@example.com"


# -- the load (a separate process) ------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; a tiny client (httpx would be the bottleneck)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{headers}"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        raw_request = head.encode() + b"\r\n" + body
        for attempt in (1, 2):
            reused = self.writer is not None
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(raw_request)
                status, length = await read_response_head(self.reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                # The server closed an idle keep-alive connection: nothing was processed.
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            return status, await self.reader.readexactly(length) if length else b""
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _drive(plan: dict[str, Any]) -> dict[str, Any]:
    """Run `plan["ops"]` over `plan["concurrency"]` workers, round-robin across replicas."""
    replicas = [tuple(url.split("://", 1)[1].split(":")) for url in plan["replicas"]]
    auth = {ws: f"Authorization: Bearer {token}\r\n" for ws, token in plan["tokens"].items()}
    org_ids = {ws: set(ids) for ws, ids in plan["contact_ids"].items()}
    ops: list[tuple[str, str, int]] = plan["ops"]
    deadline = time.perf_counter() + plan["seconds"]
    cursor = itertools.count()
    turn = itertools.count()
    edit_seq = itertools.count()
    # (workspace, email index) -> [seq, issued at, acknowledged at or None] of each edit
    edits: dict[tuple[str, int], list[list[Any]]] = {}
    result: dict[str, Any] = {
        "latencies": [],
        "statuses": {},
        "lookups": 0,
        "distinct": set(),
        "foreign": 0,
        "checked_after_edit": 0,
        "missed_edit": 0,
    }

    def title_seq(answer: dict[str, Any]) -> int:
        for field in answer["contact"]["fields"]:
            if field["name"] == "Title" and str(field["value"] or "").startswith("E"):
                return int(field["value"][1:])
        return -1

    async def worker() -> None:
        connections = [Connection(host, int(port)) for host, port in replicas]
        try:
            while time.perf_counter() < deadline:
                index = next(cursor)
                if index >= len(ops):
                    return
                kind, ws, ident = ops[index]
                connection = connections[next(turn) % len(connections)]
                headers = auth[ws]
                base = f"/v1/workspaces/{ws}/salesforce"
                start = time.perf_counter()
                done_before = [e for e in edits.get((ws, ident), []) if e[2] is not None]
                if kind == "lookup":
                    status, body = await connection.request(
                        "GET", f"{base}/contacts/lookup?email={email(ident)}", headers
                    )
                elif kind == "settings":
                    status, body = await connection.request("GET", f"{base}/settings", headers)
                elif kind == "constant":
                    status, body = await connection.request("GET", constant_path(ws), headers)
                else:
                    seq = next(edit_seq)
                    record = [seq, start, None]
                    edits.setdefault((ws, ident), []).append(record)
                    contact_id = plan["contact_ids"][ws][ident]
                    payload = json.dumps({"fields": {"Title": f"E{seq}"}}).encode()
                    status, body = await connection.request(
                        "PATCH", f"{base}/contacts/{contact_id}", headers, payload
                    )
                    if status == 200:
                        record[2] = time.perf_counter()
                    else:
                        edits[(ws, ident)].remove(record)
                result["latencies"].append(time.perf_counter() - start)
                result["statuses"][status] = result["statuses"].get(status, 0) + 1
                if kind == "lookup" and status == 200:
                    result["lookups"] += 1
                    result["distinct"].add((ws, ident))
                    answer = json.loads(body)
                    if answer["matched"] and answer["contact"]["id"] not in org_ids[ws]:
                        result["foreign"] += 1
                    if done_before:
                        # Acceptable: an edit acknowledged before the lookup was sent that no
                        # other such edit started after, or any edit still in flight then.
                        latest = {
                            e[0] for e in done_before if not any(o[1] > e[2] for o in done_before)
                        }
                        in_flight = {e[0] for e in edits[(ws, ident)] if e not in done_before}
                        result["checked_after_edit"] += 1
                        if not answer["matched"] or title_seq(answer) not in latest | in_flight:
                            result["missed_edit"] += 1
        finally:
            for connection in connections:
                connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(plan["concurrency"])))
    result["elapsed"] = time.perf_counter() - started
    result["distinct"] = len(result["distinct"])
    return result


def drive(plan: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = run_in_process(
        _drive, (plan,), timeout=plan["seconds"] + LOAD_GRACE_SECONDS
    )
    latencies = result.pop("latencies")
    result["requests"] = len(latencies)
    result["rps"] = len(latencies) / result["elapsed"]
    result["p50_ms"] = median_ms(latencies)
    result["p99_ms"] = percentile_ms(latencies, 0.99)
    result["5xx"] = sum(n for status, n in result["statuses"].items() if status >= 500)
    return result


# -- set-up -----------------------------------------------------------------------------------


def seed(emulator: SalesforceEmulator) -> dict[str, list[str]]:
    """The same 5,000 emails in both orgs, as different Contacts; their ids per workspace."""
    ids: dict[str, list[str]] = {}
    for ws, org_id in ORGS.items():
        ids[ws] = [
            emulator.add_contact(
                org_id,
                {
                    "FirstName": "Load",
                    "LastName": f"{ws[-1].upper()}{i:05d}",
                    "Email": email(i),
                    "Title": "Original",
                },
            )["Id"]
            for i in range(IDENTIFIERS)
        ]
    return ids


def mixed_ops(count: int, rng: random.Random) -> list[tuple[str, str, int]]:
    """90% lookups, 5% settings reads, 5% edits; emails by a Zipf law over a shuffled rank."""
    ranks = list(range(IDENTIFIERS))
    rng.shuffle(ranks)
    weights = list(itertools.accumulate(1 / (r + 1) ** ZIPF_S for r in range(IDENTIFIERS)))
    workspaces = list(ORGS)
    ops = []
    for _ in range(count):
        roll = rng.random()
        kind = "lookup" if roll < 0.90 else "settings" if roll < 0.95 else "edit"
        ident = ranks[rng.choices(range(IDENTIFIERS), cum_weights=weights)[0]]
        ops.append((kind, rng.choice(workspaces), ident))
    return ops


# -- the run ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3_000, help="per mixed run")
    parser.add_argument("--seconds", type=float, default=20.0, help="bound of each mixed run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="of the cached/bare comparison")
    parser.add_argument("--round-seconds", type=float, default=3.0)
    options = parser.parse_args()

    cache_url = os.environ.get("CACHE_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"sfint-load-{uuid.uuid4().hex[:8]}:"
    store = redis.Redis.from_url(cache_url, socket_timeout=2)
    redis_version = store.info("server")["redis_version"]

    with (
        scratch_database("sfint_load") as database,
        salesforce_emulator() as (emulator, running),
    ):
        contact_ids = seed(emulator)
        usernames = {ws: emulator.org(org_id).default_user.username for ws, org_id in ORGS.items()}
        asyncio.run(connect_workspaces(database.url, running.url, usernames))
        env = service_env(
            database.url,
            running.url,
            LOOKUP_CACHE_TTL_SECONDS="600",  # one TTL window spans each run
            CACHE_URL=cache_url,
            CACHE_KEY_PREFIX=prefix,
        )
        try:
            with running_replicas(env, 2, UVICORN_FAST) as urls:
                tokens = {ws: bench_token(ws, "owner") for ws in ORGS}

                def purge_all() -> None:
                    # PUT settings is the service's own purge: every replica forgets the workspace.
                    for ws, token in tokens.items():
                        answer = httpx.put(
                            f"{urls[0]}/v1/workspaces/{ws}/salesforce/settings",
                            json=SETTINGS_DOCUMENT,
                            headers={"Authorization": f"Bearer {token}"},
                            timeout=30,
                        )
                        assert answer.status_code == 200, answer.text  # set-up, not a measurement

                purge_all()
                plan_base = {"tokens": tokens, "contact_ids": contact_ids}

                # 1. cached lookup vs bare endpoint, on one replica with the Redis cache
                hot = [("lookup", "ws-load-a", i) for i in range(HOT_SET)]
                drive(
                    {**plan_base, "replicas": urls[:1], "ops": hot, "seconds": 30, "concurrency": 8}
                )
                rounds = max(1, options.rounds)

                def timed(kind: str) -> dict[str, Any]:
                    return drive(
                        {
                            **plan_base,
                            "replicas": urls[:1],
                            "ops": [(kind, "ws-load-a", i % HOT_SET) for i in range(200_000)],
                            "seconds": options.round_seconds,
                            "concurrency": options.concurrency,
                        }
                    )

                timed("constant")  # warm-up
                bare_rounds, cached_rounds = [], []
                for _ in range(rounds):
                    bare_rounds.append(timed("constant"))
                    cached_rounds.append(timed("lookup"))
                bare = median_round(bare_rounds)
                cached = median_round(cached_rounds)

                # 2. the mix: the same sequence against one replica, then both
                ops = mixed_ops(options.requests, random.Random(7))
                mixed = []
                for replica_urls in (urls[:1], urls):
                    purge_all()
                    emulator.reset_counters()
                    run = drive(
                        {
                            **plan_base,
                            "replicas": replica_urls,
                            "ops": ops,
                            "seconds": options.seconds,
                            "concurrency": options.concurrency,
                        }
                    )
                    run["queries"] = emulator.counters["query"] + emulator.counters["search"]
                    mixed.append(run)

                # 3. an edit through one replica, then a lookup on each
                title = f"Checked {uuid.uuid4().hex[:6]}"
                headers = {"Authorization": f"Bearer {tokens['ws-load-a']}"}
                edit = httpx.patch(
                    f"{urls[0]}/v1/workspaces/ws-load-a/salesforce/contacts/{contact_ids['ws-load-a'][0]}",
                    json={"fields": {"Title": title}},
                    headers=headers,
                    timeout=30,
                )
                seen = []
                for url in urls:
                    answer = httpx.get(
                        f"{url}/v1/workspaces/ws-load-a/salesforce/contacts/lookup",
                        params={"email": email(0)},
                        headers=headers,
                        timeout=30,
                    ).json()
                    fields = {f["name"]: f["value"] for f in answer["contact"]["fields"]}
                    seen.append((fields.get("Title") == title, answer["cached"]))

                def row(label: str, r: dict[str, Any]) -> str:
                    return f"  {label:<26} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"

                print(
                    f"machine: {os.cpu_count()} CPUs; replicas: uvicorn, 1 worker each, uvloop + "
                    f"httptools; Redis {redis_version}; load: 1 process, keep-alive HTTP/1.1"
                )
                print(
                    f"cached lookup vs bare endpoint (same auth, same replica, Redis cache, "
                    f"{HOT_SET} hot emails), concurrency {options.concurrency}, median of {rounds} "
                    f"alternating {options.round_seconds:.0f} s rounds:"
                )
                print(f"  {'':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
                print(row("bare endpoint", bare))
                print(row("cached lookup", cached))
                print(f"  cached / bare requests/s: {cached['rps'] / bare['rps']:.2f}")
                print(
                    f"mix: 90% lookups over {IDENTIFIERS:,} emails (Zipf s={ZIPF_S}) x 2 "
                    f"workspaces on 2 orgs, 5% settings reads, 5% edits; the same {len(ops):,} "
                    f"requests, concurrency {options.concurrency}, "
                    f"at most {options.seconds:.0f} s per run:"
                )
                print(
                    f"  {'':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'lookups':>8} "
                    f"{'distinct':>8} {'SF calls':>8} {'per 1k':>7} {'5xx':>4} {'foreign':>7} "
                    f"{'stale-after-edit':>16}"
                )
                for label, run in zip(
                    ("1 replica", "2 replicas, shared Redis"), mixed, strict=True
                ):
                    per_thousand = run["queries"] * 1000 / max(1, run["lookups"])
                    print(
                        row(label, run)
                        + f" {run['lookups']:>8} {run['distinct']:>8} {run['queries']:>8}"
                        + f" {per_thousand:>7.1f} {run['5xx']:>4} {run['foreign']:>7}"
                        + f" {run['missed_edit']:>6} of {run['checked_after_edit']:<6}"
                    )
                    if run["requests"] < len(ops):
                        print(f"    (stopped at the time bound after {run['requests']:,} requests)")
                    other = {s: n for s, n in run["statuses"].items() if s != 200}
                    if other:
                        print(f"    non-200 answers by status: {other}")
                print(
                    f"edit through replica 1 (HTTP {edit.status_code}), "
                    "then one lookup per replica: "
                    + ", ".join(
                        f"replica {i + 1} {'shows it' if ok else 'does NOT show it'}"
                        f"{' (cached)' if was_cached else ''}"
                        for i, (ok, was_cached) in enumerate(seen)
                    )
                )
        finally:
            names = list(store.scan_iter(match=prefix + "*", count=1000))
            if names:
                store.unlink(*names)
            store.close()


if __name__ == "__main__":
    main()
