"""Control API under /__emulator (for benches, demos and other processes) and a
small HTML index at / listing the seeded orgs and logins."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .oauth import base_url, sf
from .state import SalesforceEmulator

router = APIRouter()
admin = APIRouter(prefix="/__emulator")


def _org_or_404(state: SalesforceEmulator, org_id: str) -> Any:
    try:
        return state.org(org_id)
    except KeyError:
        return None


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"error": f"not found: {what}"}, status_code=404)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


@admin.get("/counters")
async def counters(request: Request) -> dict[str, int]:
    state = sf(request)
    with state._lock:
        return dict(state.counters)


@admin.post("/counters/reset")
async def reset_counters(request: Request) -> dict[str, bool]:
    sf(request).reset_counters()
    return {"ok": True}


@admin.get("/orgs")
async def orgs(request: Request) -> list[dict[str, Any]]:
    state = sf(request)
    with state._lock:
        return [
            {
                "id": o.id,
                "name": o.name,
                "edition": o.edition,
                "api_enabled": o.api_enabled,
                "api_usage": o.api_usage,
                "api_max": o.api_max,
                "fault": o.fault,
                "users": [
                    {"id": u.id, "username": u.username, "password": u.password}
                    for u in o.users.values()
                ],
            }
            for o in state.orgs.values()
        ]


@admin.post("/faults")
async def set_fault(request: Request) -> Response:
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, body.get("org_id", "")) is None:
        return _not_found("org")
    try:
        state.set_fault(body["org_id"], body.get("fault"), body.get("count"))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"ok": True})


@admin.post("/expire-tokens")
async def expire_tokens(request: Request) -> dict[str, int]:
    body = await _json(request)
    return {"expired": sf(request).expire_access_tokens(body.get("org_id"))}


@admin.post("/revoke-grants")
async def revoke_grants(request: Request) -> dict[str, int]:
    body = await _json(request)
    return {"revoked": sf(request).revoke_grants(body.get("org_id"))}


def _settings(state: SalesforceEmulator) -> dict[str, Any]:
    return {
        "latency_ms": state.latency_ms,
        "rotate_refresh_tokens": state.rotate_refresh_tokens,
        "session_seconds": state.session_seconds,
        "query_batch_size": state.query_batch_size,
    }


@admin.get("/settings")
async def get_settings(request: Request) -> dict[str, Any]:
    return _settings(sf(request))


@admin.put("/settings")
async def put_settings(request: Request) -> dict[str, Any]:
    body = await _json(request)
    state = sf(request)
    with state._lock:
        if "latency_ms" in body:
            state.latency_ms = int(body["latency_ms"])
        if "rotate_refresh_tokens" in body:
            state.rotate_refresh_tokens = bool(body["rotate_refresh_tokens"])
        if "session_seconds" in body:
            state.session_seconds = int(body["session_seconds"])
        if "query_batch_size" in body:
            state.query_batch_size = int(body["query_batch_size"])
    return _settings(state)


@admin.post("/orgs/{org_id}/contacts")
async def add_contact(request: Request, org_id: str) -> Response:
    """Body: the fields, or {"fields": {...}, "created_by": ..., "created_date": ...}."""
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    if isinstance(body.get("fields"), dict):
        rec = state.add_contact(
            org_id, body["fields"], body.get("created_by"), body.get("created_date")
        )
    else:
        rec = state.add_contact(org_id, body)
    return JSONResponse(rec, status_code=201)


@admin.get("/orgs/{org_id}/contacts/{contact_id}")
async def get_contact(request: Request, org_id: str, contact_id: str) -> Response:
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    rec = state.get_contact(org_id, contact_id)
    return JSONResponse(rec) if rec else _not_found("contact")


@admin.patch("/orgs/{org_id}/contacts/{contact_id}")
async def update_contact(request: Request, org_id: str, contact_id: str) -> Response:
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    try:
        return JSONResponse(state.update_contact(org_id, contact_id, body))
    except KeyError:
        return _not_found("contact")


@admin.delete("/orgs/{org_id}/contacts/{contact_id}")
async def delete_contact(request: Request, org_id: str, contact_id: str) -> Response:
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    try:
        state.delete_contact(org_id, contact_id)
    except KeyError:
        return _not_found("contact")
    return Response(status_code=204)


@admin.post("/orgs/{org_id}/bulk-contacts")
async def bulk_contacts(request: Request, org_id: str) -> Response:
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    recs = state.bulk_create_contacts(
        org_id, int(body.get("n", 1)), body.get("created_by"), body.get("created_date")
    )
    return JSONResponse(
        {
            "ids": [r["Id"] for r in recs],
            "created_date": recs[0]["CreatedDate"] if recs else None,
            "created_by": recs[0]["CreatedById"] if recs else None,
        },
        status_code=201,
    )


def _delivery(d: Any) -> dict[str, Any]:
    return {
        "message_id": d.message_id,
        "notification_ids": d.notification_ids,
        "record_ids": d.record_ids,
        "status": d.status,
        "acked": d.acked,
    }


@admin.post("/orgs/{org_id}/outbound-messages")
async def outbound_messages(request: Request, org_id: str) -> Response:
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    before = len(state.outbound_log)
    try:
        statuses = await state.send_outbound_messages(
            org_id,
            body["url"],
            list(body.get("contact_ids", [])),
            batch_size=int(body.get("batch_size", 100)),
            fields=body.get("fields"),
        )
    except KeyError as exc:
        return _not_found(str(exc))
    sent = state.outbound_log[before:]
    return JSONResponse({"statuses": statuses, "messages": [_delivery(d) for d in sent]})


@admin.post("/outbound-messages/resend")
async def resend(request: Request) -> Response:
    """Re-POST a sent message byte for byte (body {"message_id": ...}; default the last)."""
    body = await _json(request)
    state = sf(request)
    try:
        status = await state.resend_outbound_message(body.get("message_id"))
    except (LookupError, StopIteration):
        return _not_found("message")
    return JSONResponse({"status": status})


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    state = sf(request)
    base = html.escape(base_url(request))
    rows = []
    with state._lock:
        for o in state.orgs.values():
            users = "<br>".join(
                f"{html.escape(u.username)} / <code>{html.escape(u.password)}</code>"
                for u in o.users.values()
            )
            api = "yes" if o.api_enabled else "no (API_DISABLED_FOR_ORG)"
            rows.append(
                f"<tr><td>{html.escape(o.name)}</td><td><code>{o.id}</code></td>"
                f"<td>{html.escape(o.edition)}</td><td>{api}</td><td>{users}</td>"
                f"<td>{len(o.contacts)}</td></tr>"
            )
        client = html.escape(state.client_id)
    doc = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Salesforce emulator</title>"
        "<style>body{font-family:sans-serif;margin:2rem}td,th{border:1px solid #ccc;"
        "padding:.3rem .6rem}table{border-collapse:collapse}</style></head><body>"
        "<h1>Salesforce emulator</h1>"
        f"<p>Login host and instance: <code>{base}</code>. Connected app client_id "
        f"<code>{client}</code>.</p>"
        "<table><tr><th>Org</th><th>Id</th><th>Edition</th><th>REST API</th>"
        "<th>Users / passwords</th><th>Contacts</th></tr>"
        + "".join(rows)
        + "</table><p>Endpoints: <code>/services/oauth2/authorize</code>, "
        "<code>/services/oauth2/token</code>, <code>/services/data</code>; control API under "
        "<code>/__emulator/</code> (<a href='/__emulator/docs'>docs</a>).</p></body></html>"
    )
    return HTMLResponse(doc)


router.include_router(admin)
