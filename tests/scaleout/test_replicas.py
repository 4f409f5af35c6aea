"""Several replicas sharing Redis behave like one: invalidation, single-flight, disconnect."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers.replicas import (
    ACME,
    ANA,
    ANA_EMAIL,
    GLOBEX,
    PRIYA_EMAIL,
    Replica,
    StartReplica,
    delivered_to,
    field,
    lookup,
    put_settings,
)


async def test_edit_through_one_replica_is_seen_by_the_other_without_a_query(
    replicas: tuple[Replica, Replica], connect: Any, auth: Any, sf_emulator: Any
) -> None:
    a, b = replicas
    await connect(a, "ws-1")
    await put_settings(a, auth)
    first = await lookup(a, auth, email=ANA_EMAIL)
    assert first.status_code == 200 and first.json()["cached"] is False
    from_b = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert from_b["cached"] is True and field(from_b, "Title")["value"] == "Head of Operations"

    async with delivered_to(b):
        edited = await a.client.patch(
            f"/v1/workspaces/ws-1/salesforce/contacts/{ANA}",
            json={"fields": {"Title": "Chief Cache Officer"}},
            headers=auth("ws-1", "agent"),
        )
    assert edited.status_code == 200, edited.text
    sf_emulator.reset_counters()

    after = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert after["cached"] is True
    assert field(after, "Title") == {
        **field(from_b, "Title"),
        "value": "Chief Cache Officer",
        "revertible": True,
    }
    assert sf_emulator.counters["query"] == 0

    async with delivered_to(a):
        reverted = await b.client.post(
            f"/v1/workspaces/ws-1/salesforce/contacts/{ANA}/fields/Title/revert",
            headers=auth("ws-1", "agent"),
        )
    assert reverted.status_code == 200, reverted.text
    back = (await lookup(a, auth, email=ANA_EMAIL)).json()
    assert back["cached"] is True and field(back, "Title")["value"] == "Head of Operations"
    assert sf_emulator.counters["query"] == 0


async def test_concurrent_misses_on_two_replicas_make_one_salesforce_call(
    start_replica: StartReplica, connect: Any, auth: Any, sf_emulator: Any
) -> None:
    # Both replicas, the emulator's client and 80 requests share one event loop here: its
    # lag under this burst is not Redis being slow, so allow more than production's 0.25 s.
    a = await start_replica(cache_timeout_seconds=5.0)
    b = await start_replica(cache_timeout_seconds=5.0)
    replicas = (a, b)
    await connect(a, "ws-1")
    for replica in replicas:  # the describe is per process: warm it so only lookups count
        fields = await replica.client.get(
            "/v1/workspaces/ws-1/salesforce/fields", headers=auth("ws-1")
        )
        assert fields.status_code == 200
    sf_emulator.reset_counters()
    sf_emulator.latency_ms = 150  # the load is still running when every request has arrived

    answers = await asyncio.gather(
        *(lookup(replica, auth, email=PRIYA_EMAIL) for replica in (a, b) * 40)
    )

    assert {r.status_code for r in answers} == {200}
    assert {r.json()["contact"]["id"] for r in answers} == {answers[0].json()["contact"]["id"]}
    assert sum(not r.json()["cached"] for r in answers) >= 1
    assert sf_emulator.counters["query"] == 1
    sf_emulator.latency_ms = 0
    for replica in (a, b):
        assert (await lookup(replica, auth, email=PRIYA_EMAIL)).json()["cached"] is True
    assert sf_emulator.counters["query"] == 1


async def test_disconnect_on_one_replica_is_seen_by_the_other_once_the_bus_delivers(
    replicas: tuple[Replica, Replica], connect: Any, auth: Any
) -> None:
    a, b = replicas
    await connect(a, "ws-1")
    assert (await lookup(b, auth, email=ANA_EMAIL)).status_code == 200
    assert (await lookup(b, auth, email=ANA_EMAIL)).json()["cached"] is True

    async with delivered_to(b):
        gone = await a.client.delete(
            "/v1/workspaces/ws-1/salesforce/connection", headers=auth("ws-1", "owner")
        )
    assert gone.status_code == 204

    answer = await lookup(b, auth, email=ANA_EMAIL)
    assert answer.status_code == 409
    assert answer.json()["code"] == "salesforce_not_connected"


async def test_reconnect_to_another_org_never_serves_the_old_orgs_answers(
    replicas: tuple[Replica, Replica], connect: Any, auth: Any, sf_emulator: Any
) -> None:
    a, b = replicas
    await connect(a, "ws-1", ACME)
    acme = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert acme["matched"] is True
    async with delivered_to(b, messages=2):  # the disconnect's purge, the connect's
        await a.client.delete(
            "/v1/workspaces/ws-1/salesforce/connection", headers=auth("ws-1", "owner")
        )
        await connect(a, "ws-1", GLOBEX)

    globex = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert globex["cached"] is False
    if globex["matched"]:
        assert globex["contact"]["id"] in sf_emulator.org(GLOBEX).contacts


async def test_settings_change_on_one_replica_applies_on_the_other_once_delivered(
    replicas: tuple[Replica, Replica], connect: Any, auth: Any
) -> None:
    a, b = replicas
    await connect(a, "ws-1")
    await put_settings(a, auth, editing_enabled=False)
    before = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert field(before, "Title")["editable"] is False

    async with delivered_to(b):
        await put_settings(a, auth, editing_enabled=True, visible_fields=["Name", "Title"])

    after = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert [f["name"] for f in after["contact"]["fields"]] == ["Name", "Title"]
    assert field(after, "Title")["editable"] is True
    # And the edit endpoint on B, which reads only B's snapshot, agrees at once.
    edited = await b.client.patch(
        f"/v1/workspaces/ws-1/salesforce/contacts/{ANA}",
        json={"fields": {"Title": "CTO"}},
        headers=auth("ws-1", "agent"),
    )
    assert edited.status_code == 200, edited.text


async def test_expired_token_is_refreshed_once_by_two_replicas(
    start_replica: StartReplica, connect: Any, auth: Any, sf_emulator: Any
) -> None:
    # 30 misses at once: above the default burst of LOOKUP_MISS_BURST_PER_WORKSPACE.
    a = await start_replica(lookup_miss_burst_per_workspace=100)
    b = await start_replica(lookup_miss_burst_per_workspace=100)
    replicas = (a, b)
    await connect(a, "ws-1")
    for replica in replicas:
        await replica.client.get("/v1/workspaces/ws-1/salesforce/fields", headers=auth("ws-1"))
    sf_emulator.rotate_refresh_tokens = True
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()

    answers = await asyncio.gather(
        *(
            lookup(replica, auth, email=f"nobody{i}@example.com")
            for i, replica in enumerate((a, b) * 15)
        )
    )

    assert {r.status_code for r in answers} == {200}
    assert sf_emulator.counters["token.refresh_token"] == 1


async def test_a_contact_created_on_one_replica_replaces_the_miss_cached_on_the_other(
    replicas: tuple[Replica, Replica], connect: Any, auth: Any
) -> None:
    a, b = replicas
    await connect(a, "ws-1")
    await put_settings(a, auth, record_creation_enabled=True)
    email = "created.elsewhere@example.com"
    assert (await lookup(b, auth, email=email)).json()["matched"] is False
    assert (await lookup(b, auth, email=email)).json()["cached"] is True

    async with delivered_to(b):
        created = await a.client.post(
            "/v1/workspaces/ws-1/salesforce/contacts",
            json={"fields": {"LastName": "Elsewhere", "Email": email}},
            headers=auth("ws-1", "agent"),
        )
    assert created.status_code == 201, created.text

    seen = (await lookup(b, auth, email=email)).json()
    assert seen["matched"] is True and seen["contact"]["id"] == created.json()["id"]
