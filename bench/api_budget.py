"""Salesforce API calls one workspace costs its org in a day: a simulated day, compressed.

The service (1 replica; 3 sharing Redis, `CACHE_URL`, as production runs more than one; 3
sharing PostgreSQL only, each with its own in-process caches) runs in this process on a clock
the bench moves by hand, so a day of traffic takes seconds and the caches expire exactly as
they would (Redis's TTLs are aged with it: bench/redis_clock.py). Calls are counted at the
Salesforce emulator, and by purpose by the service itself (`api_usage` of the connection).

Typical traffic of one workspace (8 working hours): 300 conversations, each opened in the
sidebar 4 times over ~10 minutes by the agents handling it (so repeats within and beyond the
60 s lookup TTL); 15% of the day's contacts come back later that day; 30 field edits; 20
Contacts created in Salesforce, found by the reconciliation (60 s interval, backing off while
nothing new appears). Prints calls by purpose and in total. Asserts nothing.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app.auth import mint_token  # noqa: E402
from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import AutocreateWorkspace, SalesforceApiCalls  # noqa: E402
from bench._common import (  # noqa: E402
    in_process_settings,
    salesforce_emulator,
    scratch_database,
)
from bench.redis_clock import (  # noqa: E402
    BENCH_CACHE_URL,
    RedisClock,
    bench_prefix,
    redis_answers,
)
from tests.helpers.autocreate import ACME, connect_workspace, reconciler_of  # noqa: E402
from tests.helpers.clock import FakeClock  # noqa: E402

DAY = 86_400.0
WORK_START, WORK_HOURS = 9 * 3600.0, 8
CONVERSATIONS, OPENS, RETURNING, EDITS, NEW_CONTACTS = 300, 4, 0.15, 30, 20
WS = "ws-budget"
EDIT_EMAIL = "ana.souza@example.com"


def day_of_events(rng: random.Random) -> list[tuple[float, str, str]]:
    """(time, kind, email) for the day, in order."""
    events: list[tuple[float, str, str]] = []
    span = WORK_HOURS * 3600.0
    for i in range(CONVERSATIONS):
        start = WORK_START + rng.uniform(0, span)
        email = f"customer{i}@example.com"
        for _ in range(OPENS):
            events.append((start + rng.uniform(0, 600), "lookup", email))
        if rng.random() < RETURNING:
            events.append((start + rng.uniform(1800, 4 * 3600), "lookup", email))
    for _ in range(EDITS):
        events.append((WORK_START + rng.uniform(0, span), "edit", EDIT_EMAIL))
    for i in range(NEW_CONTACTS):
        events.append((WORK_START + rng.uniform(0, span), "new", f"new{i}@example.com"))
    return sorted(events)


async def simulate(
    settings: Settings,
    emulator: Any,
    replicas: int,
    ready: Callable[[list[Any]], Awaitable[None]] | None = None,
    redis_clock: RedisClock | None = None,
) -> dict[str, Any]:
    """The day; `ready(apps)`, when given, is awaited once the workspace is set up (bench/
    stream.py waits there for the change stream). With `CACHE_URL`, `redis_clock` moves
    Redis's clock with the fake one."""
    clock = FakeClock(start=0.0)

    async def move(seconds: float) -> None:
        clock.advance(seconds)
        if redis_clock is not None:
            await redis_clock.advance(seconds)

    apps = [create_app(settings, clock=clock) for _ in range(replicas)]
    contexts = [app.router.lifespan_context(app) for app in apps]
    for context in contexts:
        await context.__aenter__()
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        for app in apps
    ]
    token = mint_token(settings, workspace_id=WS, role="manager", user_id="bench")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        await connect_workspace(apps[0], emulator, WS)
        current = (
            await clients[0].get(f"/v1/workspaces/{WS}/salesforce/settings", headers=headers)
        ).json()
        put = await clients[0].put(
            f"/v1/workspaces/{WS}/salesforce/settings",
            json={**current, "editing_enabled": True},
            headers=headers,
        )
        assert put.status_code == 200, put.text
        if ready is not None:
            await ready(apps)
        emulator.reset_counters()
        rng = random.Random(13)
        reconciler = reconciler_of(apps[0], settings)
        await reconciler.claim_due_workspaces()  # creates the workspace's schedule row
        next_reconcile = 0.0
        contact_id = None
        for at, kind, email in day_of_events(rng):
            while next_reconcile <= at:  # the reconciliation schedule, backing off
                await move(max(0.0, next_reconcile - clock.now))
                await reconciler.reconcile(WS)
                async with apps[0].state.services.db.transaction() as session:
                    state = await session.get(AutocreateWorkspace, WS)
                streak = state.idle_streak if state else 0
                factor = min(2**streak, settings.autocreate_reconcile_max_backoff)
                next_reconcile += settings.autocreate_reconcile_interval_seconds * factor
            await move(max(0.0, at - clock.now))
            client = rng.choice(clients)
            if kind == "lookup" or (kind == "edit" and contact_id is None):
                answer = await client.get(
                    f"/v1/workspaces/{WS}/salesforce/contacts/lookup",
                    params={"email": email},
                    headers=headers,
                )
                if kind == "edit":
                    contact_id = answer.json()["contact"]["id"]
            if kind == "edit":
                edited = await client.patch(
                    f"/v1/workspaces/{WS}/salesforce/contacts/{contact_id}",
                    json={"fields": {"Title": f"Title {at:.0f}"}},
                    headers=headers,
                )
                assert edited.status_code == 200, edited.text
            elif kind == "new":
                emulator.add_contact(ACME, {"LastName": "New", "Email": email})
        await move(DAY - clock.now)
        for app in apps:
            await app.state.services.budget.flush()
        # The simulated day may straddle two UTC dates: sum the workspace's rows.
        async with apps[0].state.services.db.transaction() as session:
            rows = await session.execute(
                select(SalesforceApiCalls.purpose, func.sum(SalesforceApiCalls.calls))
                .where(SalesforceApiCalls.workspace_id == WS)
                .group_by(SalesforceApiCalls.purpose)
            )
            by_purpose = {purpose: int(calls) for purpose, calls in rows}
        return {"emulator_api_calls": emulator.counters.get("api", 0), "by_purpose": by_purpose}
    finally:
        for client in clients:
            await client.aclose()
        for context in reversed(contexts):
            await context.__aexit__(None, None, None)


def main() -> None:
    print(
        f"one workspace, one simulated day: {CONVERSATIONS} conversations x {OPENS} sidebar "
        f"opens ({RETURNING:.0%} return later), {EDITS} edits, {NEW_CONTACTS} new Contacts"
    )
    for replicas, shared in deployments():
        with salesforce_emulator() as (emulator, _), scratch_database("bench_budget") as db:
            settings = in_process_settings(
                emulator,
                db.url,
                lookup_miss_rate_per_workspace=1000.0,
                lookup_miss_burst_per_workspace=1000,
            )
            figures = asyncio.run(with_redis_if(shared, settings, emulator, replicas, simulate))
        purposes = ", ".join(f"{k} {v}" for k, v in figures["by_purpose"].items() if v)
        print(
            f"  {deployment(replicas, shared)}: {figures['emulator_api_calls']} Salesforce API "
            f"calls (emulator) — by purpose: {purposes}"
        )


# (replicas, sharing answers in Redis): one replica; three as production runs them
# (docs/production.md: more than one replica set CACHE_URL); three with PostgreSQL only.
DEPLOYMENTS = ((1, False), (3, True), (3, False))


def deployments() -> Iterator[tuple[int, bool]]:
    """DEPLOYMENTS, but those sharing Redis only when it answers (else a line says so)."""
    for replicas, shared in DEPLOYMENTS:
        if shared and not redis_answers():
            print(f"  {replicas} replicas sharing Redis: skipped, no Redis at {BENCH_CACHE_URL}")
            continue
        yield replicas, shared


def deployment(replicas: int, shared: bool) -> str:
    if replicas == 1:
        return "1 replica"
    return f"{replicas} replicas " + ("sharing Redis" if shared else "sharing PostgreSQL only")


Day = Callable[..., Awaitable[dict[str, Any]]]


async def with_redis_if(
    shared: bool, settings: Settings, emulator: Any, replicas: int, day: Day
) -> dict[str, Any]:
    """`day(settings, emulator, replicas, redis_clock=...)`, with CACHE_URL and a Redis clock
    moved by the day's fake clock when `shared`."""
    if not shared:
        return await day(settings, emulator, replicas)
    prefix = bench_prefix()
    shared_settings = settings.model_copy(
        update={"cache_url": BENCH_CACHE_URL, "cache_key_prefix": prefix}
    )
    redis_clock = RedisClock(BENCH_CACHE_URL, prefix)
    try:
        return await day(shared_settings, emulator, replicas, redis_clock=redis_clock)
    finally:
        await redis_clock.clear()
        await redis_clock.close()


if __name__ == "__main__":
    main()
