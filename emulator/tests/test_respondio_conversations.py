"""The respond.io emulator's conversations over real HTTP: message paging as respond.io pages,
users and channels, signed `conversation.closed` events delivered to a URL (redelivered,
re-sent under a new id, signed wrongly), and 429s for a while."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from emulator.server import start_in_thread

from .respondio_fixtures import TOKEN, _server, admin, api, state

__all__ = ["_server", "admin", "api", "state"]

KEY = "signing-key-1"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    """A webhook receiver over real HTTP that keeps what it gets."""
    received: list[tuple[bytes, dict[str, str]]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append((await request.body(), dict(request.headers)))
        return {"status": "ok"}

    running = start_in_thread(app)
    try:
        yield running.url + "/hook", received
    finally:
        running.stop()


def seed(admin: httpx.Client, n: int, **extra: Any) -> dict[str, Any]:
    messages = [
        {"traffic": "incoming" if i % 2 == 0 else "outgoing", "text": f"message {i}"}
        for i in range(n)
    ]
    response = admin.post(
        "/conversations",
        json={
            "token": TOKEN,
            "contact": {"firstName": "Ana", "lastName": "Souza", "email": "ana@example.com"},
            "messages": messages,
            "agent": {"firstName": "Sam", "lastName": "Agent", "email": "sam@acme.example"},
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_messages_are_paged_newest_first_until_next_is_null(
    api: Callable[..., httpx.Client], admin: httpx.Client
) -> None:
    seeded = seed(admin, 250)
    contact_id = seeded["contact"]["id"]
    texts: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    pages = 0
    while True:
        page = api().get(f"/contact/id:{contact_id}/message/list", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        pages += 1
        texts.extend(item["message"]["text"] for item in body["items"])
        link = body["pagination"]["next"]
        if not link:
            break
        cursor = httpx.URL(link).params["cursorId"]
        params = {"limit": 100, "cursorId": cursor}
    assert pages == 3
    assert texts == [f"message {i}" for i in reversed(range(250))]
    first = api().get(f"/contact/id:{contact_id}/message/list", params={"limit": 1}).json()
    item = first["items"][0]
    assert item["traffic"] == "outgoing" and item["sender"]["source"] == "user"
    assert item["sender"]["userId"] == seeded["agent"]["id"]
    assert item["channelId"] == seeded["channel"]["id"]
    assert isinstance(item["timestamp"], int)


def test_strict_about_limits_and_unknown_contacts(
    api: Callable[..., httpx.Client], admin: httpx.Client
) -> None:
    contact_id = seed(admin, 2)["contact"]["id"]
    assert (
        api().get(f"/contact/id:{contact_id}/message/list", params={"limit": 101}).status_code
        == 400
    )
    assert (
        api().get(f"/contact/id:{contact_id}/message/list", params={"limit": 0}).status_code == 400
    )
    assert api().get("/contact/id:42/message/list").status_code == 404
    anonymous = httpx.get(str(api().base_url).rstrip("/") + "/space/user")
    assert anonymous.status_code == 401


def test_users_and_channels(api: Callable[..., httpx.Client], admin: httpx.Client) -> None:
    seeded = seed(admin, 1, channel="Acme WhatsApp")
    users = api().get("/space/user").json()["items"]
    assert [(u["id"], u["firstName"], u["email"]) for u in users] == [
        (seeded["agent"]["id"], "Sam", "sam@acme.example")
    ]
    channels = api().get("/space/channel").json()["items"]
    assert [(c["id"], c["name"], c["source"]) for c in channels] == [
        (seeded["channel"]["id"], "Acme WhatsApp", "whatsapp")
    ]


def _valid(body: bytes, headers: dict[str, str], key: str = KEY) -> bool:
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return headers["x-webhook-signature"] == base64.b64encode(digest).decode()


def test_closed_event_is_signed_and_can_be_redelivered_renamed_or_missigned(
    admin: httpx.Client, receiver: tuple[str, list[tuple[bytes, dict[str, str]]]]
) -> None:
    url, received = receiver
    assert admin.post("/webhooks", json={"token": TOKEN, "url": url, "signing_key": KEY}).is_success
    seeded = seed(admin, 3)
    closed = admin.post(
        "/conversations/close",
        json={"token": TOKEN, "contact_id": seeded["contact"]["id"], "summary": "Refund sent"},
    ).json()
    assert closed["deliveries"] == [{"url": url, "status": 200}]
    body, headers = received[0]
    assert _valid(body, headers)
    event = json.loads(body)
    assert event["event_type"] == "conversation.closed"
    assert event["contact"]["email"] == "ana@example.com"
    conversation = event["conversation"]
    assert conversation["openedTime"] == seeded["opened_time"]
    assert conversation["summary"] == "Refund sent"
    assert (conversation["incomingMessageCount"], conversation["outgoingMessageCount"]) == (2, 1)

    event_id = event["event_id"]
    admin.post(f"/events/{event_id}/redeliver", json={"token": TOKEN})
    admin.post(f"/events/{event_id}/redeliver", json={"token": TOKEN, "new_id": True})
    admin.post(f"/events/{event_id}/redeliver", json={"token": TOKEN, "sign_wrongly": True})
    assert received[1][0] == body and _valid(*received[1])
    renamed = json.loads(received[2][0])
    assert renamed["event_id"] != event_id
    assert renamed["conversation"] == conversation and _valid(*received[2])
    assert received[3][0] == body and not _valid(*received[3])


def test_throttle_answers_429_for_a_while(
    api: Callable[..., httpx.Client], admin: httpx.Client
) -> None:
    admin.post("/throttle", json={"seconds": 0.5, "retry_after": 2})
    refused = api().get("/space/user")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    time.sleep(0.6)
    assert api().get("/space/user").status_code == 200


def test_a_state_saved_by_an_older_emulator_gains_what_it_lacks() -> None:
    """`make run` restores the emulators' pickled state (emulator/persistence.py): one written
    before conversations and call times existed still works."""
    import pickle

    from emulator.persistence import dumps
    from emulator.respondio import RespondioEmulator
    from emulator.salesforce import SalesforceEmulator

    old = RespondioEmulator()
    for name in ("conversations", "_throttled_until", "_throttle_retry_after"):
        del old.__dict__[name]
    restored = pickle.loads(dumps(old))  # noqa: S301 - our own bytes
    restored.throttle(0.0)
    assert restored.conversations.users("t") == []
    sf = SalesforceEmulator()
    del sf.__dict__["rest_calls"]
    assert len(pickle.loads(dumps(sf)).rest_calls) == 0  # noqa: S301
