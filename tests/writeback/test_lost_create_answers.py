"""A create whose answer Salesforce lost (the record exists, the answer was a 5xx or a cut
connection), or whose request died before recording its outcome: a retry with the same
`Idempotency-Key` settles it against Salesforce instead of answering "in progress" forever
or creating a second record."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.writeback.service import request_hash
from tests.helpers.contact_app import ACME
from tests.writeback.test_writeback import BASE, WS, control, setup


async def contacts_named(sf: Any, last_name: str) -> list[dict[str, Any]]:
    return [
        c
        for c in await control(sf, "GET", f"/orgs/{ACME}/contacts?LastName={last_name}")
        if not c.get("IsDeleted")
    ]


@pytest.mark.parametrize("lose", ["error_500", "error_503", "drop"])
async def test_a_contact_whose_answer_was_lost_is_created_once_and_answered_on_retry(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any, lose: str
) -> None:
    await setup(client, auth, connect)
    fields = {"FirstName": "Lost", "LastName": f"Answer{lose[-3:]}", "Email": f"{lose}@x.example"}
    headers = {**auth(WS, "agent"), "Idempotency-Key": f"lost-{lose}"}
    await control(sf_emulator, "POST", f"/orgs/{ACME}/write-faults", {"lose_answer": lose})

    lost = await client.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
    assert lost.status_code in (502, 503, 504), lost.text
    [made] = await contacts_named(sf_emulator, fields["LastName"])

    retry = await client.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == made["Id"]
    assert {f["name"]: f["value"] for f in retry.json()["fields"]}["Email"] == fields["Email"]
    assert [c["Id"] for c in await contacts_named(sf_emulator, fields["LastName"])] == [made["Id"]]

    again = await client.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
    assert again.status_code == 200 and again.json() == retry.json()


async def test_a_lead_without_email_whose_answer_was_lost_is_settled_by_last_name(
    client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    leads = {"enabled": True, "visible_fields": ["Name", "Company", "Email", "Status"]}
    await setup(client, auth, connect, leads=leads)
    fields = {"LastName": "Nomail", "Company": "Lost Answers Ltd"}
    headers = {**auth(WS, "agent"), "Idempotency-Key": "lost-lead"}
    await control(sf_emulator, "POST", f"/orgs/{ACME}/write-faults", {"lose_answer": "error_500"})
    lost = await client.post(f"{BASE}/leads", json={"fields": fields}, headers=headers)
    assert lost.status_code == 502, lost.text

    retry = await client.post(f"{BASE}/leads", json={"fields": fields}, headers=headers)
    assert retry.status_code == 200, retry.text
    leads = await control(sf_emulator, "GET", f"/orgs/{ACME}/leads?LastName=Nomail")
    assert [lead["Id"] for lead in leads] == [retry.json()["id"]]


async def age_key(app: Any, key: str, minutes: int) -> None:
    """The request holding the key died `minutes` ago (a crash): its row stays pending."""
    async with app.state.services.db.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE writeback_idempotency_keys SET created_at = created_at - "
                "make_interval(mins => :m), attempt_started_at = attempt_started_at - "
                "make_interval(mins => :m) WHERE key = :key"
            ),
            {"m": minutes, "key": key},
        )


async def pending_key(app: Any, key: str, sobject: str, fields: dict[str, Any]) -> None:
    async with app.state.services.db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO writeback_idempotency_keys (workspace_id, key, request_hash, "
                "sobject, status) VALUES (:ws, :key, :hash, :sobject, 'pending')"
            ),
            {"ws": WS, "key": key, "hash": request_hash(sobject, fields), "sobject": sobject},
        )


async def test_a_pending_key_whose_request_died_after_creating_is_settled(
    app: Any, client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    fields = {"LastName": "Crashed", "Email": "crashed@x.example"}
    headers = {**auth(WS, "agent"), "Idempotency-Key": "died"}
    # The dead request recorded its intent, then Salesforce created the record (as the
    # connection's user) and the process died before recording the answer.
    await pending_key(app, "died", "Contact", fields)
    made = await control(
        sf_emulator,
        "POST",
        f"/orgs/{ACME}/contacts",
        {"fields": fields, "created_by": sf_emulator.org(ACME).default_user.id},
    )

    in_flight = await client.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
    assert in_flight.status_code == 409, in_flight.text
    assert in_flight.json()["code"] == "idempotency_key_in_progress"

    await age_key(app, "died", 5)
    settled = await client.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
    assert settled.status_code == 200, settled.text
    assert settled.json()["id"] == made["Id"]
    assert [c["Id"] for c in await contacts_named(sf_emulator, "Crashed")] == [made["Id"]]


async def test_a_pending_key_whose_request_died_before_creating_creates_now(
    app: Any, client: httpx.AsyncClient, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup(client, auth, connect)
    fields = {"LastName": "Nevermade", "Email": "nevermade@x.example"}
    headers = {**auth(WS, "agent"), "Idempotency-Key": "died-early"}
    await pending_key(app, "died-early", "Contact", fields)
    await age_key(app, "died-early", 5)

    created = await client.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
    assert created.status_code == 201, created.text
    assert [c["Id"] for c in await contacts_named(sf_emulator, "Nevermade")] == [
        created.json()["id"]
    ]
