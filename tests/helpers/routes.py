"""Every operation of the API with a valid request for it: what the fault-injection tests
send to every route (tests/faults, tests/scaleout)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

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


def operations(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every operation in the app's OpenAPI."""
    return sorted(
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    )


async def call_route(
    client: httpx.AsyncClient, auth: Callable[..., dict[str, str]], method: str, template: str
) -> httpx.Response:
    path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], template)
    extra = dict(REQUESTS.get((method, template), {}))
    headers = {**auth(WS, "owner"), **extra.pop("headers", {})}
    return await client.request(method, path, headers=headers, **extra)
