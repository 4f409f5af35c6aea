"""Record-level write rejections on demand (per object or per record) and lost answers:
the write happens, the HTTP answer does not arrive."""

from __future__ import annotations

import httpx
import pytest

from .helpers import ACME, ANA, CARLA, V, bearer

CONTACT = f"{V}/sobjects/Contact"
FAULTS = f"/__emulator/orgs/{ACME}/write-faults"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ENTITY_IS_LOCKED", "the entity is locked for editing"),
        ("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id"),
        (
            "FIELD_FILTER_VALIDATION_EXCEPTION",
            "Value does not exist or does not match filter criteria.",
        ),
        ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"),
        (
            "INSERT_UPDATE_DELETE_NOT_ALLOWED_DURING_MAINTENANCE",
            "Updates can't be made during maintenance. Try again when maintenance is complete.",
        ),
    ],
)
def test_rejection_per_record(client, emu, token, code, message):
    resp = client.post(FAULTS, json={"record_id": ANA, "error_code": code, "fields": []})
    assert resp.status_code == 201
    h = bearer(token)
    bad = client.patch(f"{CONTACT}/{ANA}", json={"Title": "Never"}, headers=h)
    assert bad.status_code == 400
    assert bad.json() == [{"message": message, "errorCode": code, "fields": []}]
    assert emu.get_contact(ACME, ANA)["Title"] != "Never"  # nothing written
    # other records are untouched by a per-record fault
    assert client.patch(f"{CONTACT}/{CARLA}", json={"Title": "Fine"}, headers=h).status_code == 204


def test_rejection_per_object_with_fields_status_and_count(client, token):
    client.post(
        FAULTS,
        json={
            "object": "Contact",
            "operations": ["create"],
            "error_code": "DUPLICATE_VALUE",
            "fields": ["Email"],
            "count": 1,
        },
    )
    h = bearer(token)
    bad = client.post(CONTACT, json={"LastName": "X", "Email": "x@example.com"}, headers=h)
    assert bad.status_code == 400
    body = bad.json()[0]
    assert body["errorCode"] == "DUPLICATE_VALUE" and body["fields"] == ["Email"]
    assert body["message"].startswith("duplicate value found: Email")
    # updates are not among the fault's operations; the count was one
    assert client.patch(f"{CONTACT}/{ANA}", json={"Title": "T"}, headers=h).status_code == 204
    assert client.post(CONTACT, json={"LastName": "Y"}, headers=h).status_code == 201
    client.post(
        FAULTS,
        json={
            "object": "Contact",
            "error_code": "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
            "status": 400,
        },
    )
    trig = client.patch(f"{CONTACT}/{ANA}", json={"Title": "T2"}, headers=h).json()[0]
    assert trig["errorCode"] == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
    assert "ContactTrigger" in trig["message"]
    assert client.delete(FAULTS).status_code == 204
    assert client.patch(f"{CONTACT}/{ANA}", json={"Title": "T3"}, headers=h).status_code == 204


def test_unknown_fault_is_refused(client):
    assert client.post(FAULTS, json={"error_code": "NOPE"}).status_code == 400
    assert client.post(FAULTS, json={"lose_answer": "maybe"}).status_code == 400


def test_string_too_long_naturally(client, token):
    bad = client.post(CONTACT, json={"LastName": "L" * 81}, headers=bearer(token)).json()[0]
    assert bad["errorCode"] == "STRING_TOO_LONG" and bad["fields"] == ["LastName"]


def _tasks_about(client, who: str) -> list:
    return client.get(f"/__emulator/orgs/{ACME}/tasks", params={"WhoId": who}).json()


def test_lost_answer_as_500_still_creates(client, token):
    client.post(
        FAULTS,
        json={"object": "Task", "operations": ["create"], "lose_answer": "error_500", "count": 1},
    )
    resp = client.post(
        f"{V}/sobjects/Task", json={"Subject": "Lost", "WhoId": CARLA}, headers=bearer(token)
    )
    assert resp.status_code == 500
    assert resp.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    tasks = _tasks_about(client, CARLA)
    assert [t["Subject"] for t in tasks] == ["Lost"]


def test_lost_answer_as_dropped_connection_still_creates(client, token):
    client.post(FAULTS, json={"object": "Task", "lose_answer": "drop", "count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(
            f"{V}/sobjects/Task", json={"Subject": "Dropped", "WhoId": CARLA}, headers=bearer(token)
        )
    assert [t["Subject"] for t in _tasks_about(client, CARLA)] == ["Dropped"]


def test_lost_answer_as_hang_still_creates(client, emu, token):
    client.post(
        FAULTS, json={"object": "Task", "lose_answer": "hang", "hang_seconds": 5, "count": 1}
    )
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            f"{V}/sobjects/Task",
            json={"Subject": "Slow", "WhoId": CARLA},
            headers=bearer(token),
            timeout=0.5,
        )
    assert [t["Subject"] for t in _tasks_about(client, CARLA)] == ["Slow"]
