"""Fault injection over every route: with PostgreSQL cut (refused and reset) or blackholed
(accepting, never answering) while requests run, every route answers within a bounded time,
503 `service_unavailable` with `Retry-After` or its documented non-5xx answer; within 10 s of
the restore every route answers as before, without a restart."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.helpers.faultproxy import FaultProxy

ANSWERED_WITHIN = 30.0  # generous: "answered", not how fast
RECOVERED_WITHIN = 10.0
WS = "ws-1"
PATH_VALUES = {
    "workspace_id": WS,
    "contact_id": "0035g0000006SevAAE",
    "lead_id": "00Q5g0000006TPJEA2",
    "field": "Title",
    "key": "0123456789abcdef0123456789abcdef",
}
SETTINGS = {
    "visible_fields": ["Name"],
    "editing_enabled": False,
    "phone_matching": "exact",
    "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
}
ENVELOPE = (
    b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
    b'"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications xmlns='
    b'"http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D5g000003GIV7EAO'
    b"</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"
)
# What each operation is sent, beyond its path: a valid request, so the database is reached.
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/workspaces/{workspace_id}/salesforce/contacts/lookup"): {
        "params": {"email": "ana.souza@example.com"}
    },
    ("PUT", "/v1/workspaces/{workspace_id}/respondio-credentials"): {
        "json": {"api_token": "a" * 40}
    },
    ("POST", "/v1/webhooks/salesforce/outbound-messages/{key}"): {
        "content": ENVELOPE,
        "headers": {"Content-Type": "text/xml; charset=utf-8"},
    },
    ("POST", "/v1/workspaces/{workspace_id}/salesforce/connect"): {"json": {}},
    ("GET", "/v1/salesforce/oauth/callback"): {
        "params": {"state": "s" * 43, "code": "c"},
        "headers": {"Accept": "application/json"},
    },
    ("PUT", "/v1/workspaces/{workspace_id}/salesforce/settings"): {"json": SETTINGS},
    ("PATCH", "/v1/workspaces/{workspace_id}/salesforce/contacts/{contact_id}"): {
        "json": {"fields": {"Title": "CTO"}}
    },
    ("PATCH", "/v1/workspaces/{workspace_id}/salesforce/leads/{lead_id}"): {
        "json": {"fields": {"Title": "CTO"}}
    },
    ("POST", "/v1/workspaces/{workspace_id}/salesforce/contacts"): {
        "json": {"fields": {"LastName": "Fault"}}
    },
    ("POST", "/v1/workspaces/{workspace_id}/salesforce/leads"): {
        "json": {"fields": {"LastName": "Fault", "Company": "Acme"}}
    },
    ("POST", "/v1/workspaces/{workspace_id}/salesforce/activities"): {
        "json": {
            "record_id": "0035g0000006SevAAE",
            "subject": "WhatsApp conversation",
            "occurred_at": "2026-11-30T10:00:00Z",
            "external_id": "fault-1",
        }
    },
    ("GET", "/v1/workspaces/{workspace_id}/salesforce/activities"): {
        "params": {"record_id": "0035g0000006SevAAE"}
    },
}
NEED_THE_DATABASE = {
    ("GET", "/readyz"),
    ("GET", "/v1/workspaces/{workspace_id}/salesforce/settings"),
    ("PUT", "/v1/workspaces/{workspace_id}/salesforce/settings"),
    ("GET", "/v1/workspaces/{workspace_id}/salesforce/connection"),
    ("DELETE", "/v1/workspaces/{workspace_id}/salesforce/connection"),
    ("POST", "/v1/workspaces/{workspace_id}/salesforce/connect"),
    ("GET", "/v1/workspaces/{workspace_id}/respondio-credentials"),
    ("PUT", "/v1/workspaces/{workspace_id}/respondio-credentials"),
    ("GET", "/v1/workspaces/{workspace_id}/salesforce/auto-create/status"),
    ("GET", "/v1/salesforce/oauth/callback"),
    ("POST", "/v1/webhooks/salesforce/outbound-messages/{key}"),
}


def operations(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    app = client._transport.app  # type: ignore[attr-defined]
    return sorted(
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    )


async def call(
    client: httpx.AsyncClient, auth: Callable[..., dict[str, str]], method: str, template: str
) -> httpx.Response:
    path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], template)
    extra = dict(REQUESTS.get((method, template), {}))
    headers = {**auth(WS, "owner"), **extra.pop("headers", {})}
    return await client.request(method, path, headers=headers, **extra)


def assert_answered_through_the_fault(op: tuple[str, str], response: httpx.Response) -> None:
    if response.status_code >= 500:
        assert response.status_code == 503, (op, response.status_code, response.text[:300])
        assert int(response.headers["retry-after"]) > 0, op


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
async def test_every_route_answers_through_a_database_fault_and_recovers(
    proxied_client: httpx.AsyncClient,
    pg_proxy: FaultProxy,
    auth: Callable[..., dict[str, str]],
    fault: str,
) -> None:
    ops = operations(proxied_client)
    assert len(ops) >= 25
    before = {op: (await call(proxied_client, auth, *op)).status_code for op in ops}
    assert all(status < 500 for op, status in before.items() if op != ("GET", "/readyz")), before

    # The fault strikes while a request to every route is in flight.
    in_flight = [asyncio.ensure_future(call(proxied_client, auth, *op)) for op in ops]
    await asyncio.sleep(0)
    await getattr(pg_proxy, fault)()
    async with asyncio.timeout(ANSWERED_WITHIN):
        answers = await asyncio.gather(*in_flight)
    for op, response in zip(ops, answers, strict=True):
        assert_answered_through_the_fault(op, response)

    # Then, with the fault in place: each route answers 503 with Retry-After or, where it can
    # answer from memory (a workspace's cached "not connected", liveness, metrics), what it
    # answered before; the routes that must read or write the database are 503.
    async with asyncio.timeout(ANSWERED_WITHIN):
        answers = await asyncio.gather(*(call(proxied_client, auth, *op) for op in ops))
    for op, response in zip(ops, answers, strict=True):
        assert_answered_through_the_fault(op, response)
        assert response.status_code in (503, before[op]), (op, response.status_code)
        if op in NEED_THE_DATABASE:
            assert response.status_code == 503, (op, response.status_code, response.text[:300])

    await pg_proxy.restore()
    async with asyncio.timeout(RECOVERED_WITHIN):
        pending = set(ops)
        while pending:
            for op in sorted(pending):
                if (await call(proxied_client, auth, *op)).status_code == before[op]:
                    pending.discard(op)
            if pending:
                await asyncio.sleep(0.2)
