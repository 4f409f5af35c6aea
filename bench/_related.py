"""The lookup bench's whole-customer figures (bench/lookup.py): uncached lookups of Contacts
that match, in a plain workspace and in one with the Account, open Opportunities and open
Cases on, over the emulator's injected latency. Prints figures, asserts nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from app.workspace.related_settings import CustomerSettings
from bench._common import EmulatorProcess, bench_token

ACME = "00D5g000003GIV7EAO"
SOUZA_TRADING = "0015g0000000AfJAAU"  # the seeded Account with open Opportunities
# Every part on, with its default fields and limit.
ALL_ON = {
    name: {**part, "enabled": True}
    for name, part in CustomerSettings().to_json()["related"].items()
}
Load = Callable[..., dict[str, float]]


def turn_related_on(base_url: str, workspace: str) -> None:
    """PUT the workspace's settings with every related part on (set-up, not measured)."""
    headers = {"Authorization": f"Bearer {bench_token(workspace, 'owner')}"}
    url = f"{base_url}/v1/workspaces/{workspace}/salesforce/settings"
    document = httpx.get(url, headers=headers, timeout=30).json()
    saved = httpx.put(url, json={**document, "related": ALL_ON}, headers=headers, timeout=30)
    assert saved.status_code == 200, saved.text


def seed_contacts(emulator: EmulatorProcess, tag: str, count: int) -> list[str]:
    """`count` Contacts of the Account, each with an email of its own (and so a lookup that
    nothing has cached)."""
    emails = [f"related-{tag}-{i}@example.com" for i in range(count)]
    for i, email in enumerate(emails):
        emulator._control(
            "POST",
            f"/orgs/{ACME}/contacts",
            json={"LastName": f"Bench {i}", "Email": email, "AccountId": SOUZA_TRADING},
        )
    return emails


def measure(
    load: Load,
    emulator: EmulatorProcess,
    base_url: str,
    workspaces: dict[str, str],
    *,
    seconds: float,
    latency_ms: int,
) -> dict[str, dict[str, Any]]:
    """Per label (workspace): p50/p99 of uncached lookups that match a Contact of an Account
    with open Opportunities and Cases, at concurrency 1, and the Salesforce calls each made.
    The emulator's latency must already be set."""
    figures: dict[str, dict[str, Any]] = {}
    most = int(seconds * 1000 / max(1, latency_ms)) + 5
    for label, workspace in workspaces.items():
        authorization = f"Bearer {bench_token(workspace, 'agent')}"
        lookup = f"/v1/workspaces/{workspace}/salesforce/contacts/lookup"
        # The describes are held before measuring, as in any workspace past its first lookup.
        httpx.get(
            f"{base_url}{lookup}?email=warm-{workspace}@example.com",
            headers={"Authorization": authorization},
            timeout=30,
        )
        emails = seed_contacts(emulator, workspace, most)
        emulator.reset_counters()
        result = load(
            base_url,
            [f"{lookup}?email={email}" for email in emails],
            seconds=seconds,
            concurrency=1,
            authorization=authorization,
        )
        time.sleep(1 + latency_ms / 1000)  # let requests in flight finish before counting
        calls = emulator.counters().get("api", 0)
        result["calls"] = calls
        result["calls_per_lookup"] = calls / max(1, result["requests"])
        figures[label] = result
    return figures


def report(figures: dict[str, dict[str, Any]], latency_ms: int) -> None:
    print(
        f"uncached lookup of a matching Contact (a new Contact of an Account with 2 open "
        f"Opportunities, each lookup another one), emulator latency {latency_ms} ms, "
        "concurrency 1:"
    )
    for label, r in figures.items():
        print(
            f"  {label:<34} p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
            f"{int(r['requests'])} lookups, Salesforce calls {r['calls']} "
            f"({r['calls_per_lookup']:.2f} per lookup), errors {int(r['errors'])}"
        )
