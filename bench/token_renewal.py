"""Token renewal under a burst: prints figures, asserts nothing.

The service runs in this process (ASGI transport) on a scratch PostgreSQL database, the
Salesforce emulator in a thread with its REST latency switch on. Measured, per round (every
round on expired access tokens and on identifiers never looked up before, so each lookup goes
to Salesforce):

1. a client-credentials connection: N concurrent lookups; token requests Salesforce saw,
   refused calls (401), wall time of the burst;
2. W workspaces connected by one Salesforce user (one shared grant), M concurrent lookups
   each: the same figures; and what connecting the W workspaces cost in approvals revoked.

`python bench/token_renewal.py [--rounds 3] [--lookups 20] [--workspaces 8] [--each 5]
[--latency-ms 20]`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from app.auth import mint_token  # noqa: E402
from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from bench._common import (  # noqa: E402
    in_process_settings,
    salesforce_emulator,
    scratch_database,
)
from tests.helpers.browser import Browser  # noqa: E402

ACME = "00D5g000003GIV7EAO"
LOOKUP = "/v1/workspaces/{ws}/salesforce/contacts/lookup"


def headers(
    settings: Settings, ws: str, role: str = "owner", user: str = "bench"
) -> dict[str, str]:
    token = mint_token(settings, workspace_id=ws, role=role, user_id=user)
    return {"Authorization": f"Bearer {token}"}


async def burst(
    client: httpx.AsyncClient, settings: Settings, lookups: list[tuple[str, str]]
) -> float:
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(
            client.get(LOOKUP.format(ws=ws), params={"email": email}, headers=headers(settings, ws))
            for ws, email in lookups
        )
    )
    elapsed = time.perf_counter() - started
    bad = [a.status_code for a in answers if a.status_code != 200]
    if bad:
        raise SystemExit(f"lookups failed: {bad[:5]}")
    return elapsed


def figures(emulator: Any) -> dict[str, int]:
    return {
        "token requests": emulator.counters["token"],
        "refused calls (401)": emulator.counters["session.invalid"],
    }


async def run(args: argparse.Namespace, database_url: str) -> None:
    with salesforce_emulator() as (emulator, _running):
        emulator.latency_ms = args.latency_ms
        emulator.rotate_refresh_tokens = True
        host = emulator.base_url.split("://", 1)[1]
        settings = in_process_settings(
            emulator,
            database_url,
            public_base_url="http://testserver",
            # Every lookup of the bench is a miss on purpose: lift the per-workspace limit.
            lookup_miss_rate_per_workspace=1000.0,
            lookup_miss_burst_per_workspace=1000,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                # 1. client credentials
                ext = emulator.add_client_credentials_app(ACME, emulator.org(ACME).default_user.id)
                connected = await client.post(
                    "/v1/workspaces/ws-cc/salesforce/connect",
                    json={
                        "method": "client_credentials",
                        "my_domain": host,
                        "client_id": ext.client_id,
                        "client_secret": ext.client_secret,
                    },
                    headers=headers(settings, "ws-cc"),
                )
                assert connected.status_code == 200, connected.text
                times, seen = [], []
                for round_ in range(args.rounds):
                    emulator.expire_access_tokens()
                    emulator.reset_counters()
                    lookups = [
                        ("ws-cc", f"cc{round_}-{n}@example.com") for n in range(args.lookups)
                    ]
                    times.append(await burst(client, settings, lookups))
                    seen.append(figures(emulator))
                report(
                    f"client credentials, {args.lookups} concurrent lookups on an expired token",
                    times,
                    seen,
                )

                # 2. one Salesforce user, W workspaces, one shared grant
                browser = Browser(client, lambda ws, role, user: headers(settings, ws, role, user))
                emulator.reset_counters()
                workspaces = [f"ws-{n}" for n in range(1, args.workspaces + 1)]
                for ws in workspaces:
                    answer = await browser.connect(ws)
                    assert answer.status_code == 200, answer.text
                print(
                    f"connecting {args.workspaces} workspaces as one Salesforce user: "
                    f"{emulator.counters['revoke']} replaced approvals revoked by the service, "
                    f"{emulator.counters['approval_limit.revoked']} revoked by Salesforce's "
                    "five-approval limit"
                )
                times, seen = [], []
                for round_ in range(args.rounds):
                    emulator.expire_access_tokens()
                    emulator.reset_counters()
                    lookups = [
                        (ws, f"{ws}-{round_}-{n}@example.com")
                        for ws in workspaces
                        for n in range(args.each)
                    ]
                    times.append(await burst(client, settings, lookups))
                    seen.append(figures(emulator))
                report(
                    f"one shared grant, {args.workspaces} workspaces x {args.each} concurrent "
                    "lookups on an expired token (refresh-token rotation on)",
                    times,
                    seen,
                )


def report(title: str, times: list[float], seen: list[dict[str, int]]) -> None:
    print(title)
    for name in seen[0]:
        print(f"  {name} per round: {[s[name] for s in seen]}")
    print(
        f"  burst wall time: median {statistics.median(times) * 1000:.0f} ms "
        f"(rounds: {', '.join(f'{t * 1000:.0f}' for t in times)} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=20)
    parser.add_argument("--workspaces", type=int, default=8)
    parser.add_argument("--each", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=20)
    args = parser.parse_args()
    with scratch_database("sfint_bench_tokens") as database:
        asyncio.run(run(args, database.url))


if __name__ == "__main__":
    main()
