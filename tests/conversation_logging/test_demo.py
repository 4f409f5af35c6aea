"""`make run`'s demo of conversation logging, as the sidebar preview's "Close a demo
conversation" button runs it: the public API sets logging up, the preview's development route
has the respond.io emulator close a conversation and post its signed event to the service
over real HTTP, the worker logs it, and the record's logged activities (what the sidebar
lists under "Logged conversations") show the Task."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from app.config import Settings
from tests.helpers.autocreate import running_worker, wait_until
from tests.helpers.conversations import ANA
from tests.helpers.factories import grant_from_emulator, insert_connection


@pytest.fixture
def port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={"environment": "development", "public_base_url": f"http://127.0.0.1:{port}"}
    )


@pytest.fixture
async def served(app: Any, port: int) -> AsyncIterator[str]:
    """The app (its lifespan already started) on a real port, in this event loop."""
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_the_demo_button_turns_a_closed_conversation_into_a_listed_task(
    app: Any, served: str, sf_emulator: Any, rio: Any, settings: Settings
) -> None:
    services = app.state.services
    grant = await grant_from_emulator(sf_emulator.base_url, "admin@acme.example")
    await insert_connection(
        services.db, services.cipher, "demo-workspace", grant, login_url=sf_emulator.base_url
    )
    async with httpx.AsyncClient(base_url=served, timeout=10) as http:
        minted = await http.post("/dev/sidebar/token", params={"workspace": "demo-workspace"})
        headers = {"Authorization": f"Bearer {minted.json()['token']}"}
        ws = "/v1/workspaces/demo-workspace"
        demo = {"respondio_token": "demo-respondio-token", "signing_key": "demo-signing-key"}
        # What sidebar.js's demoConversation() sends, in its order.
        await http.put(
            f"{ws}/respondio-credentials",
            json={"api_token": demo["respondio_token"]},
            headers=headers,
        )
        hook = await http.put(
            f"{ws}/respondio-webhook", json={"signing_key": demo["signing_key"]}, headers=headers
        )
        assert hook.json()["url"].startswith(served + "/v1/webhooks/respondio/")
        document = (await http.get(f"{ws}/salesforce/settings", headers=headers)).json()
        document["conversation_logging"] = {"enabled": True, "min_messages": 1}
        saved = await http.put(f"{ws}/salesforce/settings", json=document, headers=headers)
        assert saved.status_code == 200, saved.text
        closed = await http.post(
            "/dev/sidebar/demo-conversation",
            json={**demo, "url": hook.json()["url"], "email": "ana.souza@example.com"},
        )
        assert closed.status_code == 200, closed.text
        assert [d["status"] for d in closed.json()["deliveries"]] == [200]

        async with running_worker(settings, reconcile=False):

            async def logged() -> bool:
                listed = await http.get(f"{ws}/salesforce/conversation-logging", headers=headers)
                return [e["outcome"] for e in listed.json()["events"]] == ["logged"]

            await wait_until(logged, timeout=30)
        activities = await http.get(
            f"{ws}/salesforce/activities", params={"record_id": ANA}, headers=headers
        )
    (entry,) = activities.json()
    assert entry["subject"] == "WhatsApp conversation: Resolved"
    assert entry["logged_by"] == "respond.io"
