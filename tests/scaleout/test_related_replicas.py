"""The whole customer on several replicas sharing Redis: the related records are cached with
the Contact (another replica serves them without a call), and a Case opened through one
replica shows among the Contact's cached open Cases on the other at once."""

from __future__ import annotations

from typing import Any

from tests.helpers.replicas import ANA, ANA_EMAIL, Replica, delivered_to, lookup, put_settings

RELATED = {
    "account": {"enabled": True, "fields": ["Name"]},
    "opportunities": {"enabled": True, "fields": ["Name", "CloseDate"], "limit": 5},
    "cases": {"enabled": True, "fields": ["CaseNumber", "Subject"], "limit": 5},
}


async def test_related_records_are_cached_with_the_contact_on_every_replica(
    replicas: tuple[Replica, Replica], connect: Any, auth: Any, sf_emulator: Any
) -> None:
    a, b = replicas
    await connect(a, "ws-1")
    await put_settings(a, auth, related=RELATED, record_creation_enabled=True)
    first = (await lookup(a, auth, email=ANA_EMAIL)).json()
    assert first["cached"] is False and len(first["related"]["cases"]) == 2
    sf_emulator.reset_counters()
    from_b = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert from_b["cached"] is True and from_b["related"] == first["related"]
    assert sf_emulator.counters["api"] == 0

    async with delivered_to(b):
        opened = await a.client.post(
            "/v1/workspaces/ws-1/salesforce/cases",
            json={"contact_id": ANA, "fields": {"Subject": "Opened on replica A"}},
            headers=auth("ws-1", "agent"),
        )
    assert opened.status_code == 201, opened.text
    sf_emulator.reset_counters()
    after = (await lookup(b, auth, email=ANA_EMAIL)).json()
    assert after["cached"] is True and sf_emulator.counters["api"] == 0
    assert after["related"]["cases"][0]["id"] == opened.json()["id"]
    assert len(after["related"]["cases"]) == 3
