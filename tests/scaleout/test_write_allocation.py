"""Writes and the API allocation across two replicas sharing Redis: a no-op edit on one replica
is answered from the lookup the other one cached (no Salesforce call), and the workspace's
write rate is one limit for both (docs/api-allocation.md)."""

from __future__ import annotations

from typing import Any

from tests.helpers.replicas import ANA, ANA_EMAIL, field, lookup, put_settings

CONTACT = "/v1/workspaces/ws-1/salesforce/contacts/" + ANA


async def edit(replica: Any, auth: Any, title: str) -> Any:
    return await replica.client.patch(
        CONTACT, json={"fields": {"Title": title}}, headers=auth("ws-1", "agent")
    )


async def test_a_no_op_edit_on_one_replica_uses_the_lookup_cached_by_the_other(
    replicas, connect, auth, sf_emulator
) -> None:
    a, b = replicas
    await connect(a, "ws-1")
    await put_settings(a, auth)
    title = field((await lookup(a, auth, email=ANA_EMAIL)).json(), "Title")["value"]
    sf_emulator.reset_counters()

    for _ in range(30):
        answer = await edit(b, auth, title)
        assert answer.status_code == 200, answer.text
    assert sf_emulator.counters["api"] == 0

    # A real change on b updates the entry in Redis: undoing it on a is a write again, and
    # repeating the new value on a costs nothing.
    assert (await edit(b, auth, "Chief of Staff")).status_code == 200
    spent = sf_emulator.counters["api"]
    assert spent > 0
    assert (await edit(a, auth, "Chief of Staff")).status_code == 200
    assert sf_emulator.counters["api"] == spent


async def test_the_write_rate_is_one_limit_across_replicas(
    start_replica, connect, auth, sf_emulator
) -> None:
    limits = {
        "salesforce_write_rate_per_workspace": 0.01,  # no refill within the test
        "salesforce_write_burst_per_workspace": 4,
    }
    a = await start_replica(**limits)
    b = await start_replica(**limits)
    await connect(a, "ws-1")
    await put_settings(a, auth)

    answers = [await edit(replica, auth, f"Title {n}") for n, replica in enumerate([a, b] * 3)]

    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429, 429]
    assert answers[-1].json()["code"] == "too_many_requests"
    assert int(answers[-1].headers["Retry-After"]) >= 1
