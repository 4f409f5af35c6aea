"""Replicas of the service in one process (see tests/scaleout) and their HTTP steps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

ACME = "00D5g000003GIV7EAO"
GLOBEX = "00D8c000003VlcBEAS"


@dataclass
class Replica:
    app: Any
    client: httpx.AsyncClient


StartReplica = Callable[..., Awaitable[Replica]]

LOOKUP = "/v1/workspaces/{ws}/salesforce/contacts/lookup"
BUS_DELIVERY_TIMEOUT = 10.0


@asynccontextmanager
async def delivered_to(replica: Replica, messages: int = 1) -> AsyncIterator[None]:
    """Run the block, then wait until `replica` has handled `messages` more messages from
    the purge bus: a change made elsewhere reaches a replica's near cache over the bus
    (app.workspace.near_cache), so "the other replica shows it" means "once delivered"."""
    bus = replica.app.state.services.bus
    expected = bus.received + messages
    yield
    await asyncio.wait_for(bus.until_received(expected), BUS_DELIVERY_TIMEOUT)


ANA = "0035g0000006SevAAE"
ANA_EMAIL = "ana.souza@example.com"
PRIYA_EMAIL = "priya.raman@example.com"
VISIBLE = ["Name", "Email", "Title", "LeadSource"]


async def lookup(replica: Replica, auth: Any, ws: str = "ws-1", **params: str) -> Any:
    return await replica.client.get(LOOKUP.format(ws=ws), params=params, headers=auth(ws, "agent"))


async def put_settings(replica: Replica, auth: Any, ws: str = "ws-1", **changes: Any) -> None:
    document = {
        "visible_fields": VISIBLE,
        "editing_enabled": True,
        "phone_matching": "exact",
        "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
        **changes,
    }
    response = await replica.client.put(
        f"/v1/workspaces/{ws}/salesforce/settings", json=document, headers=auth(ws, "owner")
    )
    assert response.status_code == 200, response.text


def field(answer: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in answer["contact"]["fields"] if f["name"] == name)
