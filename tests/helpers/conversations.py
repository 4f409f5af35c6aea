"""What the conversation logging tests share: a workspace set up through the API (connected,
respond.io token, webhook, logging on), conversations seeded in the respond.io emulator,
their signed events posted to the service, and the Tasks the Salesforce emulator holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from app.conversation_models import LoggedConversation, RespondioEvent
from emulator.respondio import RespondioEmulator
from emulator.respondio.conversation_routes import SeedConversation, SeedMessage, seed
from emulator.respondio.conversations import Delivery
from tests.helpers.factories import grant_from_emulator, insert_connection, set_respondio_token

ACME = "00D5g000003GIV7EAO"
ANA = "0035g0000006SevAAE"  # ana.souza@example.com
BEN = "0035g0000006Sh8AAE"  # +60198765432
SALES_USER = "0055g000000GR44AAG"  # sales@acme.example
SIGNING_KEY = "rio-signing-key-1"


@dataclass
class Logging:
    workspace_id: str
    token: str
    key: str
    url: str

    @property
    def path(self) -> str:
        return "/v1/webhooks/respondio/" + self.key


def settings_document(**changes: Any) -> dict[str, Any]:
    return {
        "visible_fields": ["Name", "Email", "Phone"],
        "editing_enabled": False,
        "phone_matching": "exact",
        "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
        "conversation_logging": {"enabled": True, "min_messages": 1},
        **changes,
    }


async def set_up(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    sf_emulator: Any,
    workspace_id: str = "ws-1",
    **settings: Any,
) -> Logging:
    """Connected to Acme, a respond.io token stored, the webhook set up and logging on, each
    through the service's API except the grant (from the emulator's real OAuth flow)."""
    services = app.state.services
    grant = await grant_from_emulator(sf_emulator.base_url, "admin@acme.example")
    await insert_connection(
        services.db, services.cipher, workspace_id, grant, login_url=sf_emulator.base_url
    )
    await services.invalidation.purge_workspace(workspace_id)
    token = f"rio-token-{workspace_id}"
    await set_respondio_token(services.db, services.cipher, workspace_id, token)
    headers = auth(workspace_id, "manager")
    put = await client.put(
        f"/v1/workspaces/{workspace_id}/respondio-webhook",
        json={"signing_key": SIGNING_KEY},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    url = put.json()["url"]
    saved = await client.put(
        f"/v1/workspaces/{workspace_id}/salesforce/settings",
        json=settings_document(**settings),
        headers=auth(workspace_id, "owner"),
    )
    assert saved.status_code == 200, saved.text
    return Logging(workspace_id, token, url.rsplit("/", 1)[1], url)


def conversation(
    rio: RespondioEmulator,
    logging: Logging,
    n: int,
    *,
    email: str | None = "ana.souza@example.com",
    phone: str | None = None,
    agent_email: str = "sales@acme.example",
    with_timestamps: bool = True,
    channel: str = "WhatsApp",
) -> dict[str, Any]:
    """A contact with an open conversation of `n` messages (incoming first, then
    alternating), answered by an agent."""
    contact = {"firstName": "Ana", "lastName": "Souza"}
    if email:
        contact["email"] = email
    if phone:
        contact["phone"] = phone
    body = SeedConversation(
        token=logging.token,
        contact=contact,
        channel=channel,
        agent={"firstName": "Sam", "lastName": "Seller", "email": agent_email},
        messages=[
            SeedMessage(
                traffic="incoming" if i % 2 == 0 else "outgoing", text=f"message number {i}"
            )
            for i in range(n)
        ],
        with_timestamps=with_timestamps,
    )
    return seed(rio, body)


def close(
    rio: RespondioEmulator,
    logging: Logging,
    seeded: dict[str, Any],
    *,
    category: str | None = "Resolved",
    summary: str | None = "Order 1234 refunded",
) -> dict[str, Any]:
    return rio.conversations.close_conversation(
        logging.token,
        seeded["contact"],
        category=category,
        summary=summary,
        closed_by_user=seeded["agent"],
    )


def signed(rio: RespondioEmulator, logging: Logging, event_id: str, **options: Any) -> Delivery:
    (delivery,) = rio.conversations.deliveries(
        logging.token, event_id, url=logging.url, signing_key=SIGNING_KEY, **options
    )
    return delivery


async def post(client: httpx.AsyncClient, logging: Logging, delivery: Delivery) -> httpx.Response:
    return await client.post(logging.path, content=delivery.body, headers=delivery.headers)


async def tasks_of(sf_emulator: Any, record_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as http:
        response = await http.get(f"/__emulator/orgs/{ACME}/tasks", params={"WhoId": record_id})
    assert response.status_code == 200, response.text
    return [t for t in response.json() if not t.get("IsDeleted")]


async def conversations(app: Any) -> list[LoggedConversation]:
    async with app.state.services.db.transaction() as session:
        return list(
            await session.scalars(select(LoggedConversation).order_by(LoggedConversation.id))
        )


async def events(app: Any) -> list[RespondioEvent]:
    async with app.state.services.db.transaction() as session:
        return list(await session.scalars(select(RespondioEvent).order_by(RespondioEvent.id)))


async def settled(app: Any, count: int = 1) -> bool:
    rows = await conversations(app)
    return len(rows) >= count and all(r.status != "pending" for r in rows)
