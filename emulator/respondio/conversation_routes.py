"""HTTP of the emulator's conversations: the API routes respond.io serves (messages, users,
channels) and the admin routes a test, the bench or the demo drives (seed a conversation,
close it and deliver its signed event, redeliver it, throttle with 429s)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from emulator.respondio.conversations import Delivery
from emulator.respondio.state import ApiError, Identifier, RespondioEmulator

Gate = Callable[[Request, str], Awaitable[str]]
DELIVERY_TIMEOUT = 10.0


def add_api_routes(api: APIRouter, state: RespondioEmulator, gate: Gate) -> None:
    store = state.conversations

    def contact_id_of(token: str, identifier: str) -> int:
        contact = state.get(token, Identifier.parse(identifier))
        if contact is None:
            raise ApiError(404, "Contact not found")
        return int(contact["id"])

    @api.get("/contact/{identifier}/message/list")
    async def list_messages(
        identifier: str,
        request: Request,
        limit: int = Query(10),
        cursorId: int | None = Query(None),  # noqa: N803 - respond.io's name
    ) -> JSONResponse:
        token = await gate(request, "message.list")
        contact_id = contact_id_of(token, identifier)
        try:
            items, cursor = store.message_page(token, contact_id, limit, cursorId)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        base = str(request.base_url).rstrip("/") + f"/v2/contact/{quote(identifier, safe=':')}"
        link = f"{base}/message/list?limit={limit}&cursorId={cursor}" if cursor else None
        previous = f"{base}/message/list?limit={limit}" if cursorId else None
        return JSONResponse({"items": items, "pagination": {"next": link, "previous": previous}})

    @api.get("/space/user")
    async def list_users(request: Request) -> JSONResponse:
        token = await gate(request, "space.user")
        return JSONResponse({"items": store.users(token), "pagination": {"next": None}})

    @api.get("/space/channel")
    async def list_channels(request: Request) -> JSONResponse:
        token = await gate(request, "space.channel")
        return JSONResponse({"items": store.channels(token), "pagination": {"next": None}})


class SeedMessage(BaseModel):
    traffic: str = "incoming"
    text: str | None = None
    attachment: dict[str, Any] | None = None
    source: str | None = None
    user_id: int | None = None


class SeedConversation(BaseModel):
    token: str
    contact: dict[str, Any] = Field(description="firstName, lastName, email, phone")
    channel: str = "WhatsApp"
    messages: list[SeedMessage] = Field(default_factory=list)
    agent: dict[str, str] | None = Field(None, description="firstName, lastName, email")
    with_timestamps: bool = True


class CloseConversation(BaseModel):
    token: str
    contact_id: int
    category: str | None = "Resolved"
    summary: str | None = None
    deliver: bool = True


class Redeliver(BaseModel):
    token: str
    new_id: bool = False
    sign_wrongly: bool = False


class WebhookIn(BaseModel):
    token: str
    url: str
    signing_key: str


class Throttle(BaseModel):
    seconds: float
    retry_after: float = 1.0


def seed(state: RespondioEmulator, body: SeedConversation) -> dict[str, Any]:
    """A contact (created or updated by email/phone), a channel, an optional agent and an
    open conversation with `messages`, one a second ending now."""
    import time

    store = state.conversations
    identifier = (
        f"email:{body.contact['email']}"
        if body.contact.get("email")
        else f"phone:{body.contact['phone']}"
    )
    contact, _ = state.create_or_update(body.token, Identifier.parse(identifier), body.contact)
    channel = store.add_channel(body.token, body.channel)
    agent = (
        store.add_user(
            body.token, body.agent["firstName"], body.agent["lastName"], body.agent["email"]
        )
        if body.agent
        else None
    )
    now = int(time.time() * 1000)
    opened = now - (len(body.messages) + 1) * 1000
    store.open_conversation(body.token, contact["id"], opened)
    for i, message in enumerate(body.messages):
        store.add_message(
            body.token,
            contact["id"],
            traffic=message.traffic,
            text=message.text,
            attachment=message.attachment,
            source=message.source or ("user" if message.traffic == "outgoing" and agent else None),
            user_id=message.user_id
            or (agent["id"] if agent and message.traffic == "outgoing" else None),
            channel_id=channel["id"],
            timestamp_ms=opened + (i + 1) * 1000,
            with_timestamp=body.with_timestamps,
        )
    return {"contact": contact, "channel": channel, "agent": agent, "opened_time": opened}


async def deliver(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    """Post each delivery to its URL (as respond.io does); the answers."""
    results = []
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as http:
        for d in deliveries:
            if d.url is None:
                continue
            try:
                response = await http.post(d.url, content=d.body, headers=d.headers)
                results.append({"url": d.url, "status": response.status_code})
            except httpx.HTTPError as exc:
                results.append({"url": d.url, "error": type(exc).__name__})
    return results


def add_admin_routes(admin: APIRouter, state: RespondioEmulator) -> None:
    store = state.conversations

    @admin.post("/conversations")
    async def seed_conversation(body: SeedConversation) -> dict[str, Any]:
        return seed(state, body)

    @admin.post("/webhooks")
    async def add_webhook(body: WebhookIn) -> dict[str, str]:
        store.add_webhook(body.token, body.url, body.signing_key)
        return {"status": "ok"}

    @admin.post("/conversations/close")
    async def close(body: CloseConversation) -> dict[str, Any]:
        contact = state.get(body.token, Identifier("id", str(body.contact_id)))
        if contact is None:
            raise ApiError(404, "Contact not found")
        try:
            event = store.close_conversation(
                body.token, contact, category=body.category, summary=body.summary
            )
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None
        sent = (
            await deliver(store.deliveries(body.token, event["event_id"])) if body.deliver else []
        )
        return {"event": event, "deliveries": sent}

    @admin.post("/events/{event_id}/redeliver")
    async def redeliver(event_id: str, body: Redeliver) -> dict[str, Any]:
        try:
            deliveries = store.deliveries(
                body.token, event_id, new_id=body.new_id, sign_wrongly=body.sign_wrongly
            )
        except ValueError as exc:
            raise ApiError(404, str(exc)) from None
        return {
            "event_id": deliveries[0].event_id if deliveries else event_id,
            "deliveries": await deliver(deliveries),
        }

    @admin.post("/throttle")
    async def throttle(body: Throttle) -> dict[str, str]:
        state.throttle(body.seconds, body.retry_after)
        return {"status": "ok"}
