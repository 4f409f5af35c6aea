"""FastAPI app of the respond.io Developer API v2 emulator: contacts and tags here; messages,
users, channels and webhooks in conversation_routes.py."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from emulator.respondio.conversation_routes import add_admin_routes, add_api_routes
from emulator.respondio.state import ApiError, Identifier, RespondioEmulator


class SettingsUpdate(BaseModel):
    rate_limit_per_second: float | None = None
    outage: bool | None = None
    latency_ms: float | None = None


class FailNext(BaseModel):
    n: int = 1
    status: int = 503
    retry_after: float | None = None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status, headers=headers)


def create_app(state: RespondioEmulator | None = None) -> FastAPI:
    """Build the emulator app around ``state`` (a fresh one when omitted)."""
    state = state if state is not None else RespondioEmulator()
    app = FastAPI(title="respond.io Developer API v2 emulator", openapi_url=None)
    app.state.emulator = state

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    @app.middleware("http")
    async def _count_statuses(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        if request.url.path.startswith("/v2/"):
            record = getattr(request.state, "record", None)
            if record is not None:
                record.status = response.status_code
            if response.status_code >= 400:
                state.count(str(response.status_code))
        return response

    async def gate(request: Request, operation: str) -> str:
        """Latency, outage, auth, injected failures and rate limit; return the token."""
        if state.latency_ms > 0:
            await asyncio.sleep(state.latency_ms / 1000)
        if state.outage:
            raise ApiError(503, "Service Unavailable")
        token = state.check_token(request.headers.get("authorization"))
        request.state.record = state.admit(
            token, request.method, request.url.path, request.headers.get("traceparent")
        )
        state.count(operation)
        return token

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise ApiError(400, "Body must be JSON") from None

    api = APIRouter(prefix="/v2")

    add_api_routes(api, state, gate)

    # Registered before /contact/{identifier} so "create_or_update" never reads as an id.
    @api.post("/contact/create_or_update/{identifier}")
    async def create_or_update_contact(identifier: str, request: Request) -> JSONResponse:
        token = await gate(request, "contact.create_or_update")
        ident = Identifier.parse(identifier)
        contact, created = state.create_or_update(token, ident, await json_body(request))
        if created:
            state.count("contact.created")
        return JSONResponse({"contactId": contact["id"]})

    @api.get("/contact/{identifier}")
    async def get_contact(identifier: str, request: Request) -> JSONResponse:
        token = await gate(request, "contact.get")
        contact = state.get(token, Identifier.parse(identifier))
        if contact is None:
            raise ApiError(404, "Contact not found")
        return JSONResponse(contact)

    @api.post("/contact/{identifier}")
    async def create_contact(identifier: str, request: Request) -> JSONResponse:
        token = await gate(request, "contact.create")
        ident = Identifier.parse(identifier)
        state.create(token, ident, await json_body(request))
        state.count("contact.created")
        return JSONResponse({"code": 200, "message": "Contact added successfully!"})

    @api.post("/contact/{identifier}/tag")
    async def add_tags(identifier: str, request: Request) -> JSONResponse:
        token = await gate(request, "contact.tag")
        contact = state.add_tags(token, Identifier.parse(identifier), await json_body(request))
        return JSONResponse({"contactId": contact["id"]})

    app.include_router(api)

    admin = APIRouter(prefix="/__emulator")

    @admin.get("/counters")
    async def counters() -> dict[str, int]:
        return state.counter_snapshot()

    @admin.get("/contacts")
    async def contacts(token: str = Query(...)) -> list[dict[str, Any]]:
        return state.contacts(token)

    @admin.get("/requests")
    async def requests(token: str | None = None) -> list[dict[str, Any]]:
        return [
            {"at": r.at, "method": r.method, "path": r.path, "status": r.status}
            for r in state.requests(token)
        ]

    @admin.get("/settings")
    async def get_settings() -> dict[str, Any]:
        return state.settings()

    @admin.put("/settings")
    async def put_settings(update: SettingsUpdate) -> dict[str, Any]:
        # Only the keys present in the body change; rate_limit_per_second: null lifts the limit.
        return state.configure(**update.model_dump(exclude_unset=True))

    @admin.post("/fail_next")
    async def fail_next(body: FailNext) -> dict[str, str]:
        try:
            state.fail_next(body.n, status=body.status, retry_after=body.retry_after)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return {"status": "ok"}

    @admin.post("/reset")
    async def reset() -> dict[str, str]:
        state.reset()
        return {"status": "ok"}

    add_admin_routes(admin, state)
    app.include_router(admin)
    return app
