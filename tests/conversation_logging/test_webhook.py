"""The respond.io webhook: its set-up (PUT/GET/DELETE) and the receiver (signature, storage,
deduplication, other event types, limits). No worker runs here: whatever the receiver stores
stays pending."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers.conversations import (
    SIGNING_KEY,
    close,
    conversation,
    conversations,
    events,
    post,
    set_up,
    signed,
)

SETUP = "/v1/workspaces/ws-1/respondio-webhook"


async def test_set_up_answers_a_url_with_a_random_key_and_never_the_signing_key(
    app: Any, client: httpx.AsyncClient, auth: Any
) -> None:
    first = await client.put(
        SETUP, json={"signing_key": SIGNING_KEY}, headers=auth("ws-1", "owner")
    )
    assert first.status_code == 200, first.text
    url = first.json()["url"]
    assert url.startswith("http://testserver/v1/webhooks/respondio/")
    assert len(url.rsplit("/", 1)[1]) >= 40
    assert SIGNING_KEY not in first.text
    shown = await client.get(SETUP, headers=auth("ws-1", "manager"))
    assert shown.json() == {"url": url} and SIGNING_KEY not in shown.text
    # A new signing key keeps the URL already pasted in respond.io.
    again = await client.put(SETUP, json={"signing_key": "rotated"}, headers=auth("ws-1", "owner"))
    assert again.json() == {"url": url}
    other = await client.put(
        "/v1/workspaces/ws-2/respondio-webhook", json={"signing_key": "x"}, headers=auth("ws-2")
    )
    assert other.json()["url"] != url


async def test_set_up_is_for_owners_and_managers_and_refuses_an_empty_key(
    app: Any, client: httpx.AsyncClient, auth: Any
) -> None:
    agent = await client.put(SETUP, json={"signing_key": "k"}, headers=auth("ws-1", "agent"))
    assert agent.status_code == 403
    assert (await client.get(SETUP, headers=auth("ws-1", "agent"))).status_code == 403
    for body in ({"signing_key": ""}, {"signing_key": "   "}, {}):
        empty = await client.put(SETUP, json=body, headers=auth("ws-1", "owner"))
        assert empty.status_code == 422, body
    assert (await client.get(SETUP, headers=auth("ws-1", "owner"))).status_code == 404


async def test_delete_forgets_the_webhook_and_its_url_answers_404(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 2))
    delivery = signed(rio, logging, event["event_id"])
    deleted = await client.delete(SETUP, headers=auth("ws-1", "owner"))
    assert deleted.status_code == 204
    assert (await client.get(SETUP, headers=auth("ws-1", "owner"))).status_code == 404
    assert (await client.delete(SETUP, headers=auth("ws-1", "owner"))).status_code == 404
    answer = await post(client, logging, delivery)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert await events(app) == []


async def test_a_signed_event_is_stored_once_per_event_id(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 3))
    delivery = signed(rio, logging, event["event_id"])

    first = await post(client, logging, delivery)
    again = await post(client, logging, delivery)

    assert (first.status_code, first.json()) == (200, {"status": "stored"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    (stored,) = await events(app)
    assert stored.event_id == event["event_id"]
    assert stored.contact_email == "ana.souza@example.com"
    (row,) = await conversations(app)
    assert row.status == "pending" and row.event["conversation"]["summary"] == "Order 1234 refunded"


async def test_a_new_event_id_for_the_same_conversation_is_one_conversation(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 3))
    await post(client, logging, signed(rio, logging, event["event_id"]))
    renamed = await post(client, logging, signed(rio, logging, event["event_id"], new_id=True))
    assert renamed.json() == {"status": "stored"}
    assert len(await events(app)) == 2
    assert len(await conversations(app)) == 1


async def test_a_wrong_or_missing_signature_is_401_and_stores_nothing(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 2))
    wrong = signed(rio, logging, event["event_id"], sign_wrongly=True)
    good = signed(rio, logging, event["event_id"])
    tampered = good.body.replace(b"Order 1234", b"Order 9999")
    for body, headers in (
        (wrong.body, wrong.headers),
        (good.body, {"Content-Type": "application/json"}),
        (good.body, {**good.headers, "X-Webhook-Signature": "not base64 !"}),
        (tampered, good.headers),
    ):
        answer = await client.post(logging.path, content=body, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "webhook_signature_invalid"
    assert await events(app) == [] and await conversations(app) == []


async def test_other_event_types_are_acknowledged_and_ignored(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 2))
    payload = {**event, "event_type": "message.received"}
    body = json.dumps(payload).encode()
    from app.conversation_logging.events import sign

    answer = await client.post(
        logging.path, content=body, headers={"X-Webhook-Signature": sign(SIGNING_KEY, body)}
    )
    assert (answer.status_code, answer.json()) == (200, {"status": "ignored"})
    assert await events(app) == []


async def test_limits_unknown_keys_bad_bodies(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any
) -> None:
    from app.conversation_logging.events import sign

    logging = await set_up(app, client, auth, sf_emulator)
    unknown = await client.post("/v1/webhooks/respondio/nope", content=b"{}")
    assert unknown.status_code == 404
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    too_large = await client.post(
        logging.path, content=big, headers={"X-Webhook-Signature": sign(SIGNING_KEY, big)}
    )
    assert too_large.status_code == 413
    for body in (b"not json", b"[1, 2]", b'{"event_type": "conversation.closed"}'):
        answer = await client.post(
            logging.path, content=body, headers={"X-Webhook-Signature": sign(SIGNING_KEY, body)}
        )
        assert answer.status_code == 400, body
        assert answer.json()["code"] == "webhook_payload_invalid"
    assert await events(app) == []


async def test_settings_carry_conversation_logging(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any
) -> None:
    fresh = await client.get("/v1/workspaces/ws-9/salesforce/settings", headers=auth("ws-9"))
    assert fresh.json()["conversation_logging"] == {"enabled": False, "min_messages": 1}
    await set_up(
        app, client, auth, sf_emulator, conversation_logging={"enabled": True, "min_messages": 3}
    )
    document = (await client.get("/v1/workspaces/ws-1/salesforce/settings", headers=auth())).json()
    assert document["conversation_logging"] == {"enabled": True, "min_messages": 3}
    # A PUT without the key keeps it.
    del document["conversation_logging"]
    kept = await client.put(
        "/v1/workspaces/ws-1/salesforce/settings", json=document, headers=auth()
    )
    assert kept.json()["conversation_logging"] == {"enabled": True, "min_messages": 3}
    bad = {**document, "conversation_logging": {"enabled": True, "min_messages": 0}}
    refused = await client.put("/v1/workspaces/ws-1/salesforce/settings", json=bad, headers=auth())
    assert refused.status_code == 422


async def test_the_logging_list_shows_pending_events_and_counts(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 2))
    await post(client, logging, signed(rio, logging, event["event_id"]))
    listed = await client.get(
        "/v1/workspaces/ws-1/salesforce/conversation-logging", headers=auth("ws-1", "manager")
    )
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["counts"] == {"logged": 0, "skipped": 0, "pending": 1, "failed": 0}
    (entry,) = body["events"]
    assert entry["event_id"] == event["event_id"]
    assert entry["contact"] == {
        "id": str(event["contact"]["id"]),
        "email": "ana.souza@example.com",
        "phone": None,
    }
    assert (entry["outcome"], entry["task_id"], entry["processed_at"]) == ("pending", None, None)
    agent = await client.get(
        "/v1/workspaces/ws-1/salesforce/conversation-logging", headers=auth("ws-1", "agent")
    )
    assert agent.status_code == 403
