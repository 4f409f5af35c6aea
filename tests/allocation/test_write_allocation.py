"""Writes and the org's API allocation (docs/api-allocation.md): a no-op edit answered from a
fresh cached read costs no call; every Salesforce-calling write is refused above the
foreground threshold (503) and past the workspace's write rate (429), before any call."""

from __future__ import annotations

from typing import Any

import httpx

from app.workspace.budget import PROBE_AFTER_SECONDS, retry_after_seconds
from tests.helpers.contact_app import ACME
from tests.helpers.edits import (
    ANA,
    ANA_EMAIL,
    LEAD_VISIBLE,
    LEADS,
    LENA,
    LENA_EMAIL,
    VISIBLE,
    edit,
    edit_rows,
    revert,
    setup_workspace,
    stored,
)
from tests.helpers.lookups import lookup

BASE = "/v1/workspaces/{ws}/salesforce"
LIMIT = 15_000
TITLE = "Head of Operations"  # Ana's title in the emulator's seed


async def set_usage(sf_emulator: Any, used: int, limit: int = LIMIT) -> None:
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as control:
        answer = await control.patch(
            f"/__emulator/orgs/{ACME}", json={"api_usage": used, "api_max": limit}
        )
        answer.raise_for_status()


async def enable_writes(client: httpx.AsyncClient, auth: Any, ws: str = "ws-1") -> None:
    """Editing, record creation and activity logging on."""
    document = {
        "visible_fields": VISIBLE,
        "editing_enabled": True,
        "phone_matching": "exact",
        "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
        "record_creation_enabled": True,
        "activity_logging_enabled": True,
        "leads": {"enabled": True, "visible_fields": LEAD_VISIBLE},
    }
    answer = await client.put(
        f"{BASE.format(ws=ws)}/settings", json=document, headers=auth(ws, "owner")
    )
    assert answer.status_code == 200, answer.text


async def create_contact(
    client: httpx.AsyncClient, auth: Any, n: int, ws: str = "ws-1", key: str | None = None
) -> Any:
    fields = {"LastName": f"Burst{n}", "Email": f"burst{n}@example.com"}
    headers = auth(ws, "agent") | ({"Idempotency-Key": key} if key else {})
    return await client.post(
        f"{BASE.format(ws=ws)}/contacts", json={"fields": fields}, headers=headers
    )


async def log_activity(client: httpx.AsyncClient, auth: Any, n: int, ws: str = "ws-1") -> Any:
    body = {
        "record_id": ANA,
        "subject": "WhatsApp conversation",
        "description": "hello",
        "occurred_at": "2026-11-30T10:00:00Z",
        "external_id": f"conversation-{n}",
    }
    return await client.post(
        f"{BASE.format(ws=ws)}/activities", json=body, headers=auth(ws, "agent")
    )


async def test_150_no_op_edits_after_a_lookup_cost_no_salesforce_call(
    client, auth, connect, sf_emulator, app, clock
) -> None:
    await setup_workspace(client, auth, connect)
    shown = (await lookup(client, auth, email=ANA_EMAIL)).json()["contact"]
    before = stored(sf_emulator)
    sf_emulator.reset_counters()

    answers = [await edit(client, auth, {"Title": TITLE}) for _ in range(150)]

    assert {a.status_code for a in answers} == {200}
    assert answers[-1].json()["fields"] == shown["fields"]
    assert sf_emulator.counters["api"] == 0  # not one call: the cached read was fresh
    assert stored(sf_emulator) == before
    assert await edit_rows(app) == []  # nothing recorded either

    # Once the cached read is older than the lookup TTL, a no-op edit reads Salesforce
    # (one call) and still writes nothing.
    clock.advance(120)
    assert (await edit(client, auth, {"Title": TITLE})).status_code == 200
    assert sf_emulator.counters["api"] == 1
    assert stored(sf_emulator)["LastModifiedDate"] == before["LastModifiedDate"]


async def test_an_edit_to_a_new_value_is_written_even_when_cached(
    client, auth, connect, sf_emulator
) -> None:
    await setup_workspace(client, auth, connect)
    await lookup(client, auth, email=ANA_EMAIL)
    answer = await edit(client, auth, {"Title": TITLE, "LeadSource": "Phone Inquiry"})
    assert answer.status_code == 200, answer.text
    assert stored(sf_emulator)["LeadSource"] == "Phone Inquiry"
    assert stored(sf_emulator)["Title"] == TITLE


async def test_every_write_at_an_org_near_its_limit_is_refused_503_before_any_call(
    client, auth, connect, sf_emulator, app, clock
) -> None:
    await setup_workspace(client, auth, connect)
    await enable_writes(client, auth)
    await lookup(client, auth, email=ANA_EMAIL)  # the sidebar shows Ana; the edit updates it
    assert (await edit(client, auth, {"Title": "CTO"})).status_code == 200
    await set_usage(sf_emulator, 14_400)  # 96%, above SALESFORCE_API_FOREGROUND_MAX_USAGE
    # The next call measures it (the emulator counts that call too).
    assert (await lookup(client, auth, email="nobody@example.com")).status_code == 200
    used = sf_emulator.org(ACME).api_usage
    sf_emulator.reset_counters()
    before = stored(sf_emulator)

    refused = [
        await edit(client, auth, {"Title": "CEO"}),
        await revert(client, auth, "Title"),
        await create_contact(client, auth, 1, key="near-the-limit"),
        await client.post(
            f"{BASE.format(ws='ws-1')}/leads",
            json={"fields": {"LastName": "Near", "Company": "Limit Ltd"}},
            headers=auth("ws-1", "agent"),
        ),
        await log_activity(client, auth, 1),
    ]

    for answer in refused:
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "salesforce_rate_limited"
        assert int(answer.headers["Retry-After"]) == retry_after_seconds(used, LIMIT, 0.95)
    assert sf_emulator.counters["api"] == 0  # not one call spent
    assert stored(sf_emulator) == before
    assert [r.status for r in await edit_rows(app)] == ["applied"]  # nothing pending

    # A no-op edit answered from a fresh cached read still works: it costs nothing.
    assert (await edit(client, auth, {"Title": "CTO"})).status_code == 200
    assert sf_emulator.counters["api"] == 0

    # The org's other tools stopped; once the measurement is old one call probes it again,
    # and the refused create's Idempotency-Key was left free: its retry creates the record.
    await set_usage(sf_emulator, 9_000)
    clock.advance(PROBE_AFTER_SECONDS)
    retried = await create_contact(client, auth, 1, key="near-the-limit")
    assert retried.status_code == 201, retried.text
    assert sf_emulator.counters["contact.create"] == 1


async def test_a_burst_of_writes_past_the_workspace_rate_gets_429(
    client, auth, connect, sf_emulator, clock
) -> None:
    # Defaults: SALESFORCE_WRITE_RATE_PER_WORKSPACE 5 a second, a burst of 20.
    await setup_workspace(client, auth, connect)
    await setup_workspace(client, auth, connect, ws="ws-calm")
    await enable_writes(client, auth)
    await enable_writes(client, auth, "ws-calm")

    writes = [await edit(client, auth, {"Title": f"Title {n}"}) for n in range(18)]
    writes.append(await create_contact(client, auth, 1))
    writes.append(await log_activity(client, auth, 1))
    assert [w.status_code for w in writes] == [200] * 18 + [201, 201], writes[-1].text
    sf_emulator.reset_counters()

    past = [
        await edit(client, auth, {"Title": "One too many"}),
        await revert(client, auth, "Title"),
        await create_contact(client, auth, 2),
        await log_activity(client, auth, 2),
    ]
    for answer in past:
        assert answer.status_code == 429, answer.text
        assert answer.json()["code"] == "too_many_requests"
        assert answer.headers["Retry-After"] == "1"
    assert sf_emulator.counters["api"] == 0

    # Another workspace of the same org has its own rate.
    assert (await edit(client, auth, {"Title": "Calm"}, ws="ws-calm")).status_code == 200
    # A fifth of a second later the workspace may write once more.
    clock.advance(0.2)
    assert (await edit(client, auth, {"Title": "One more"})).status_code == 200
    assert (await edit(client, auth, {"Title": "Again"})).status_code == 429


async def test_a_no_op_lead_edit_after_a_lookup_costs_no_call(
    client, auth, connect, sf_emulator
) -> None:
    await setup_workspace(client, auth, connect, leads=LEAD_VISIBLE)
    shown = (await lookup(client, auth, email=LENA_EMAIL)).json()["lead"]
    title = next(f["value"] for f in shown["fields"] if f["name"] == "Title")
    sf_emulator.reset_counters()

    for _ in range(30):
        answer = await edit(client, auth, {"Title": title}, contact=LENA, path=LEADS)
        assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == shown["fields"]
    assert sf_emulator.counters["api"] == 0
