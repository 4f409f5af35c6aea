"""Control API under /__emulator (for benches, demos and other processes) and a
small HTML index at / listing the seeded orgs and logins."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .oauth import base_url, sf
from .state import SalesforceEmulator
from .util import fmt_datetime, parse_datetime

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


def _user(u: Any) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "password": u.password,
        "active": u.active,
        "api_enabled": u.api_enabled,
        "approve_uninstalled_apps": u.approve_uninstalled_apps,
    }


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
                "users": [_user(u) for u in o.users.values()],
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


@admin.patch("/orgs/{org_id}")
async def patch_org(request: Request, org_id: str) -> Response:
    """{"api_enabled": bool, "api_usage": int, "api_max": int, "connected_app_installed":
    bool, "approval_limit": int | null} (any subset)."""
    body = await _json(request)
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    with state._lock:
        if "api_enabled" in body:
            org.api_enabled = bool(body["api_enabled"])
        if "api_usage" in body:
            org.api_usage = int(body["api_usage"])
        if "api_max" in body:
            org.api_max = int(body["api_max"])
        if "connected_app_installed" in body:
            org.connected_app_installed = bool(body["connected_app_installed"])
        if "approval_limit" in body:
            org.approval_limit = int(body["approval_limit"]) if body["approval_limit"] else None
        return JSONResponse(
            {"api_enabled": org.api_enabled, "api_usage": org.api_usage, "api_max": org.api_max}
        )


@admin.patch("/orgs/{org_id}/users/{user_id}")
async def patch_user(request: Request, org_id: str, user_id: str) -> Response:
    """{"api_enabled": bool (the profile's "API Enabled"), "active": bool,
    "approve_uninstalled_apps": bool}."""
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    user = state.user(org_id, user_id)
    if user is None:
        return _not_found("user")
    with state._lock:
        if "api_enabled" in body:
            user.api_enabled = bool(body["api_enabled"])
        if "active" in body:
            user.active = bool(body["active"])
        if "approve_uninstalled_apps" in body:
            user.approve_uninstalled_apps = bool(body["approve_uninstalled_apps"])
    return JSONResponse(_user(user))


@admin.get("/clock")
async def get_clock(request: Request) -> dict[str, Any]:
    clock = sf(request).clock
    return {"now": fmt_datetime(clock.now()), "offset_seconds": clock.offset_seconds}


@admin.post("/clock")
async def move_clock(request: Request) -> Response:
    """{"advance_seconds": n} | {"advance_days": n} | {"set": "2026-12-01T00:00:00Z"} |
    {"reset": true}. The clock never goes back except by reset."""
    body = await _json(request)
    clock = sf(request).clock
    try:
        if body.get("reset"):
            clock.reset()
        elif "set" in body:
            moment = parse_datetime(str(body["set"]))
            if moment is None:
                raise ValueError(f"not a datetime: {body['set']!r}")
            clock.set(moment)
        else:
            clock.advance(
                float(body.get("advance_seconds", 0)) + 86400 * float(body.get("advance_days", 0))
            )
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"now": fmt_datetime(clock.now()), "offset_seconds": clock.offset_seconds})


@admin.get("/connected-app")
async def get_connected_app(request: Request) -> dict[str, Any]:
    state = sf(request)
    return state.apps[state.client_id].as_json()


@admin.put("/connected-app")
async def put_connected_app(request: Request) -> Response:
    """{"callback_urls": [...]} replaces, {"add_callback_urls": [...]} adds;
    {"require_pkce": bool}. Applies to the emulator's app (client_id)."""
    body = await _json(request)
    state = sf(request)
    with state._lock:
        app = state.apps[state.client_id]
        if "callback_urls" in body:
            app.callback_urls = [str(u) for u in body["callback_urls"]]
        for url in body.get("add_callback_urls", []):
            if url not in app.callback_urls:
                app.callback_urls.append(str(url))
        if "require_pkce" in body:
            app.require_pkce = bool(body["require_pkce"])
        return JSONResponse(app.as_json())


@admin.post("/token-faults")
async def add_token_fault(request: Request) -> Response:
    """{"fault": one of TOKEN_FAULTS} or {"error", "error_description", "status"};
    optional "grant_type" (authorization_code | refresh_token) and "count"."""
    body = await _json(request)
    try:
        tf = sf(request).add_token_fault(
            body.get("fault"),
            error=body.get("error"),
            description=body.get("error_description"),
            status=body.get("status"),
            grant_type=body.get("grant_type"),
            count=body.get("count"),
        )
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(
        {"error": tf.error, "error_description": tf.description, "status": tf.status},
        status_code=201,
    )


@admin.delete("/token-faults")
async def clear_token_faults(request: Request) -> Response:
    sf(request).clear_token_faults()
    return Response(status_code=204)


@admin.post("/expire-tokens")
async def expire_tokens(request: Request) -> dict[str, int]:
    body = await _json(request)
    return {"expired": sf(request).expire_access_tokens(body.get("org_id"))}


@admin.post("/revoke-grants")
async def revoke_grants(request: Request) -> dict[str, int]:
    body = await _json(request)
    return {"revoked": sf(request).revoke_grants(body.get("org_id"))}


SETTINGS: dict[str, Any] = {
    # name: how to read a JSON value
    "latency_ms": int,
    "rotate_refresh_tokens": bool,
    "session_seconds": int,
    "refresh_token_idle_days": lambda v: None if v in (None, 0) else int(v),
    "query_batch_size": int,
    "search_index_delay_seconds": int,
    "strict_soql_datetimes": bool,
    "token_answer_overrides": lambda v: dict(v or {}),
}


def _settings(state: SalesforceEmulator) -> dict[str, Any]:
    return {name: getattr(state, name) for name in SETTINGS}


@admin.get("/settings")
async def get_settings(request: Request) -> dict[str, Any]:
    return _settings(sf(request))


@admin.put("/settings")
async def put_settings(request: Request) -> Response:
    body = await _json(request)
    state = sf(request)
    unknown = sorted(set(body) - set(SETTINGS))
    if unknown:
        return JSONResponse({"error": f"unknown settings: {unknown}"}, status_code=400)
    with state._lock:
        for name, value in body.items():
            setattr(state, name, SETTINGS[name](value))
    return JSONResponse(_settings(state))


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
