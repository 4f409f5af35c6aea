"""What writes cost the org's API allocation, and what the write limits let through.

One replica in this process on a clock the bench moves by hand (so the lookup TTL and the
per-workspace write rate behave exactly as in a day of traffic), the Salesforce emulator in a
thread; calls are counted at the emulator. Default limits: SALESFORCE_WRITE_RATE_PER_WORKSPACE
5/s, burst 20; SALESFORCE_API_FOREGROUND_MAX_USAGE 0.95. Prints figures, asserts nothing.

Scenarios, 150 edits of one Contact's Title each:
- no-op edits right after the sidebar's lookup (a fresh cached read holds the value);
- no-op edits each more than a lookup TTL apart (no fresh cached read: one read each);
- edits that change the value, sent at once (a script, a stuck client): the burst passes, the
  rest is 429;
- the same, one every 0.2 s (the allowed rate): all pass;
- edits at an org at 96 % of its daily allocation: 503, nothing spent.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
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
from tests.helpers.autocreate import ACME, connect_workspace  # noqa: E402
from tests.helpers.clock import FakeClock  # noqa: E402

WS = "ws-writes"
ANA = "0035g0000006SevAAE"
ANA_EMAIL = "ana.souza@example.com"
EDITS = 150
BASE = f"/v1/workspaces/{WS}/salesforce"


async def scenarios(settings: Settings, emulator: Any) -> list[tuple[str, Counter[int], int]]:
    clock = FakeClock(start=0.0)
    app = create_app(settings, clock=clock)
    results: list[tuple[str, Counter[int], int]] = []
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
        token = mint_token(settings, workspace_id=WS, role="manager", user_id="bench")
        headers = {"Authorization": f"Bearer {token}"}
        try:
            await connect_workspace(app, emulator, WS)
            current = (await client.get(f"{BASE}/settings", headers=headers)).json()
            put = await client.put(
                f"{BASE}/settings", json={**current, "editing_enabled": True}, headers=headers
            )
            assert put.status_code == 200, put.text

            async def lookup() -> str:
                answer = await client.get(
                    f"{BASE}/contacts/lookup", params={"email": ANA_EMAIL}, headers=headers
                )
                fields = answer.json()["contact"]["fields"]
                return str(next(f["value"] for f in fields if f["name"] == "Title"))

            async def edit(title: str) -> int:
                answer = await client.patch(
                    f"{BASE}/contacts/{ANA}", json={"fields": {"Title": title}}, headers=headers
                )
                return answer.status_code

            async def run(name: str, titles: list[str], gap: float) -> None:
                emulator.reset_counters()
                statuses: Counter[int] = Counter()
                for title in titles:
                    statuses[await edit(title)] += 1
                    clock.advance(gap)
                results.append((name, statuses, emulator.counters.get("api", 0)))
                clock.advance(60)  # the write bucket fills up again between scenarios

            title = await lookup()
            await run("no-op edits after a lookup", [title] * EDITS, 0.0)
            ttl = settings.lookup_cache_ttl_seconds + 1
            await run("no-op edits, no fresh cached read", [title] * EDITS, ttl)
            changes = [f"Title {n}" for n in range(EDITS)]
            await run("changing edits, all at once", changes, 0.0)
            await run("changing edits, one per 0.2 s", [c + "b" for c in changes], 0.2)
            async with httpx.AsyncClient(base_url=emulator.base_url) as control:
                await control.patch(
                    f"/__emulator/orgs/{ACME}", json={"api_usage": 14_400, "api_max": 15_000}
                )
            await lookup()  # a miss measures the usage
            await run("changing edits at 96 % of the org's allocation", changes, 0.2)
        finally:
            await client.aclose()
    return results


def main() -> None:
    with salesforce_emulator() as (emulator, _), scratch_database("bench_writes") as db:
        results = asyncio.run(scenarios(in_process_settings(emulator, db.url), emulator))
    print(f"{EDITS} edits of one Contact's Title per scenario (default limits):")
    for name, statuses, calls in results:
        answered = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
        print(f"  {name}: {answered}; {calls} Salesforce API calls")


if __name__ == "__main__":
    main()
