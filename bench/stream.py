"""The change stream, measured: prints figures, asserts nothing.

1. Freshness (real clock, one worker streaming the org from the emulator's Pub/Sub API):
   (a) a Contact created in the emulator → its respond.io contact (auto-create, including its
       AUTOCREATE_BULK_SETTLE_SECONDS wait) and → its row stored by the stream;
   (b) a Contact changed in the emulator → the next lookup answers the new value (the cached
       answer is dropped through LISTEN/NOTIFY); p50 / p99.
2. Salesforce API calls one workspace costs its org in bench/api_budget.py's typical day,
   with the stream on (1 replica; 3 sharing Redis; 3 sharing PostgreSQL only); bench/
   api_budget.py prints the same day without it.
3. 1,000 orgs over 3 worker processes: how the streams spread, how long until all stream,
   and the memory each stream costs a worker (RSS growth / streams held).

Usage: python bench/stream.py [latency|budget|orgs ...] (default: all three).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from app.auth import mint_token  # noqa: E402
from app.config import Settings  # noqa: E402
from app.crypto import TokenCipher  # noqa: E402
from app.db import Database  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import AutocreateContact  # noqa: E402
from app.models_stream import ChangeStream  # noqa: E402
from app.worker import Worker  # noqa: E402
from bench._common import (  # noqa: E402
    ROOT,
    in_process_settings,
    percentile_ms,
    salesforce_emulator,
    scratch_database,
)
from bench.api_budget import WS, deployment, deployments, simulate, with_redis_if  # noqa: E402
from bench.redis_clock import RedisClock  # noqa: E402
from emulator.respondio import RespondioEmulator  # noqa: E402
from emulator.respondio import create_app as create_respondio_app  # noqa: E402
from emulator.salesforce.models import Org, User  # noqa: E402
from emulator.salesforce.pubsub_server import start_pubsub_server  # noqa: E402
from emulator.salesforce.tokens import pkce_challenge  # noqa: E402
from emulator.server import start_in_thread  # noqa: E402
from tests.helpers.autocreate import ACME, connect_workspace  # noqa: E402
from tests.helpers.factories import insert_connection  # noqa: E402

SAMPLES = 40
ORGS = 1000
WORKERS = 3


def stream_settings(db_url: str, emulator: Any, pubsub: Any, **extra: Any) -> Settings:
    """bench/_common.py's in-process settings, with the emulator's Pub/Sub API allowed."""
    host = emulator.base_url.split("://", 1)[1]
    return in_process_settings(
        emulator,
        db_url,
        salesforce_pubsub_address=pubsub.address,
        lookup_miss_rate_per_workspace=1000.0,
        lookup_miss_burst_per_workspace=1000,
        **extra,
    ).model_copy(update={"salesforce_extra_allowed_hosts": f"{host},{pubsub.address}"})


async def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(interval)


async def org_streaming(db: Database, org: str = ACME) -> bool:
    async with db.transaction() as session:
        row = await session.get(ChangeStream, org)
    return row is not None and row.state == "streaming"


# -- 1. freshness -----------------------------------------------------------------------------


async def latency(settings: Settings, emulator: Any, rio: RespondioEmulator) -> dict[str, Any]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        workspace = await connect_workspace(app, emulator, "ws-bench")
        worker = Worker(settings)
        running = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: org_streaming(services.db))
            to_row, to_contact = [], []
            for i in range(SAMPLES):
                email = f"fresh{i}@example.com"
                started = time.perf_counter()
                record = emulator.add_contact(ACME, {"LastName": f"Fresh{i}", "Email": email})
                await wait_for(lambda r=record: _row_stored(services.db, r["Id"]))
                to_row.append(time.perf_counter() - started)
                await wait_for(lambda e=email: _rio_has(rio, workspace.token, e), interval=0.02)
                to_contact.append(time.perf_counter() - started)
            token = mint_token(settings, workspace_id="ws-bench", role="agent", user_id="b")
            headers = {"Authorization": f"Bearer {token}"}
            transport = httpx.ASGITransport(app=app)
            to_lookup = []
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                url = "/v1/workspaces/ws-bench/salesforce/contacts/lookup"
                params = {"email": "ana.souza@example.com"}
                first = (await http.get(url, params=params, headers=headers)).json()
                contact_id = first["contact"]["id"]
                for i in range(SAMPLES):
                    await http.get(url, params=params, headers=headers)  # cached now
                    title = f"Title {i}"
                    started = time.perf_counter()
                    emulator.update_contact(ACME, contact_id, {"Title": title})

                    async def fresh(t: str = title) -> bool:
                        body = (await http.get(url, params=params, headers=headers)).json()
                        return any(f["value"] == t for f in body["contact"]["fields"])

                    await wait_for(fresh, interval=0.005)
                    to_lookup.append(time.perf_counter() - started)
        finally:
            worker.stop()
            await running
    return {"row": to_row, "contact": to_contact, "lookup": to_lookup}


async def _row_stored(db: Database, contact_id: str) -> bool:
    async with db.transaction() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(AutocreateContact)
            .where(AutocreateContact.salesforce_contact_id == contact_id)
        )
    return bool(found)


async def _rio_has(rio: RespondioEmulator, token: str, email: str) -> bool:
    return any(c.get("email") == email for c in rio.contacts(token))


def run_latency() -> None:
    rio = RespondioEmulator()
    rio_server = start_in_thread(create_respondio_app(rio))
    try:
        with salesforce_emulator() as (emulator, _), scratch_database("bench_stream") as db:
            pubsub = start_pubsub_server(emulator)
            try:
                settings = stream_settings(
                    db.url, emulator, pubsub, respondio_api_base_url=rio_server.url + "/v2"
                )
                figures = asyncio.run(latency(settings, emulator, rio))
            finally:
                pubsub.stop()
    finally:
        rio_server.stop()
    print(f"freshness over {SAMPLES} changes each (one worker, real clock):")
    for key, label in (
        ("row", "Contact created → stored by the stream"),
        ("contact", "Contact created → respond.io contact (incl. the 5 s bulk settle)"),
        ("lookup", "Contact changed → lookup answers the new value"),
    ):
        values = figures[key]
        print(
            f"  {label}: p50 {percentile_ms(values, 0.5):.0f} ms, "
            f"p99 {percentile_ms(values, 0.99):.0f} ms"
        )


# -- 2. the API budget of a day -----------------------------------------------------------------


def run_budget() -> None:
    print("one workspace's typical day (bench/api_budget.py) with the change stream on:")
    for replicas, shared in deployments():
        with salesforce_emulator() as (emulator, _), scratch_database("bench_stream_day") as db:
            pubsub = start_pubsub_server(emulator)
            try:
                settings = stream_settings(db.url, emulator, pubsub)
                figures = asyncio.run(
                    with_redis_if(shared, settings, emulator, replicas, _day_with_stream)
                )
            finally:
                pubsub.stop()
        purposes = ", ".join(f"{k} {v}" for k, v in figures["by_purpose"].items() if v)
        print(
            f"  {deployment(replicas, shared)}: {figures['emulator_api_calls']} "
            "Salesforce API calls "
            f"(emulator) — by purpose: {purposes}; Pub/Sub calls "
            f"{emulator.counters.get('pubsub', 0)}, events delivered "
            f"{emulator.counters.get('pubsub_events', 0)}"
        )


async def _day_with_stream(
    settings: Settings, emulator: Any, replicas: int, redis_clock: RedisClock | None = None
) -> dict[str, Any]:
    worker = Worker(settings, jobs=False, reconcile=False)
    running = asyncio.create_task(worker.run())

    async def ready(apps: list[Any]) -> None:
        db = apps[0].state.services.db
        await wait_for(lambda: org_streaming(db))

        async def every_replica_knows() -> bool:
            return all(WS in a.state.services.stream_listener.health.streaming for a in apps)

        await wait_for(every_replica_knows)

    try:
        return await simulate(settings, emulator, replicas, ready=ready, redis_clock=redis_clock)
    finally:
        worker.stop()
        await running


# -- 3. 1,000 orgs over 3 workers ---------------------------------------------------------------


def add_orgs(emulator: Any, count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` Enterprise orgs with one admin each, and a grant for each (no HTTP)."""
    grants = []
    verifier = secrets.token_urlsafe(48)
    for n in range(count):
        org_id = f"00D9b{n:010d}AAA"
        user_id = f"0059b{n:010d}AAA"
        org = Org(id=org_id, name=f"Bench Org {n}", my_domain=f"bench{n}")
        org.users[user_id] = User(
            user_id, f"admin{n}@bench.example", "emulator", "Bench", f"Admin{n}", "a@b.example"
        )
        emulator.orgs[org_id] = org
        code = emulator.create_code(
            client_id=emulator.client_id,
            redirect_uri="https://bench.example/cb",
            code_challenge=pkce_challenge(verifier),
            code_challenge_method="S256",
            org_id=org_id,
            user_id=user_id,
            scope="api refresh_token id",
        )
        access, refresh = emulator.exchange_code(
            code=code,
            client_id=emulator.client_id,
            client_secret=emulator.client_secret,
            redirect_uri="https://bench.example/cb",
            code_verifier=verifier,
        )
        grants.append(
            (
                f"ws-org-{n}",
                {
                    "id": f"{emulator.base_url}/id/{org_id}/{user_id}",
                    "instance_url": emulator.base_url,
                    "access_token": access.token,
                    "refresh_token": refresh,
                    "scope": "api refresh_token id",
                },
            )
        )
    return grants


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _orgs(settings: Settings, emulator: Any) -> dict[str, Any]:
    db = Database(settings.async_database_url)
    cipher = TokenCipher(settings.encryption_keys)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANGE_")}
    env.update({name.upper(): str(v) for name, v in settings.model_dump().items() if v is not None})
    processes = [
        subprocess.Popen(  # noqa: ASYNC220 - started once, stopped below
            [sys.executable, "-m", "app.worker"], cwd=ROOT, env=env
        )
        for _ in range(WORKERS)
    ]
    try:

        async def all_started() -> bool:  # every worker's stream manager beats
            async with db.transaction() as session:
                n = await session.scalar(text("SELECT count(*) FROM change_stream_workers"))
            return int(n or 0) >= WORKERS

        await wait_for(all_started, timeout=120, interval=0.2)
        await asyncio.sleep(3)
        idle = [rss_kib(p.pid) for p in processes]  # started, holding no stream yet
        grants = add_orgs(emulator, ORGS)
        started = time.perf_counter()
        for workspace, grant in grants:
            await insert_connection(db, cipher, workspace, grant, login_url=emulator.base_url)

        async def all_streaming() -> bool:
            async with db.transaction() as session:
                n = await session.scalar(
                    text("SELECT count(*) FROM change_streams WHERE state = 'streaming'")
                )
            return int(n or 0) >= ORGS

        await wait_for(all_streaming, timeout=600, interval=0.5)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(3)
        busy = [rss_kib(p.pid) for p in processes]
        async with db.transaction() as session:
            spread = dict(
                (
                    await session.execute(
                        text("SELECT owner, count(*) FROM change_streams GROUP BY owner")
                    )
                ).all()
            )
        return {
            "elapsed": elapsed,
            "idle": idle,
            "busy": busy,
            "spread": sorted(spread.values(), reverse=True),
            "open_streams": emulator.pubsub.open_streams,
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        await db.dispose()


def run_orgs() -> None:
    with salesforce_emulator() as (emulator, _), scratch_database("bench_stream_orgs") as db:
        pubsub = start_pubsub_server(emulator)
        try:
            settings = stream_settings(db.url, emulator, pubsub)
            figures = asyncio.run(_orgs(settings, emulator))
        finally:
            pubsub.stop()
    growth = [b - i for b, i in zip(figures["busy"], figures["idle"], strict=True)]
    per_stream = statistics.mean(
        g / s for g, s in zip(growth, figures["spread"], strict=False) if s
    )
    print(f"{ORGS} orgs over {WORKERS} worker processes:")
    print(f"  every org streaming {figures['elapsed']:.1f} s after the connections appeared")
    print(
        f"  streams per worker: {figures['spread']} "
        f"(open at the emulator: {figures['open_streams']})"
    )
    print(
        f"  worker RSS idle {[round(i / 1024) for i in figures['idle']]} MiB, streaming "
        f"{[round(b / 1024) for b in figures['busy']]} MiB: about {per_stream:.0f} KiB per stream"
    )


def main() -> None:
    chosen = sys.argv[1:] or ["latency", "budget", "orgs"]
    for name in chosen:
        {"latency": run_latency, "budget": run_budget, "orgs": run_orgs}[name]()


if __name__ == "__main__":
    main()
