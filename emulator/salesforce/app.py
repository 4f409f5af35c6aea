"""The Salesforce emulator's ASGI app: OAuth (login host), identity, REST and
the /__emulator admin API. The login host and the instance are the same server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admin import router as admin_router
from .admin_cdc import router as admin_cdc_router
from .admin_data import router as admin_data_router
from .admin_enterprise import router as admin_enterprise_router
from .approvals import router as approvals_router
from .change_events import CALL_CLIENT, client_of
from .client_credentials import router as client_credentials_router
from .errors import SFError
from .identity import router as identity_router
from .oauth import router as oauth_router
from .request_log import RecordRequests
from .request_log import router as requests_router
from .rest import router as rest_router
from .rest_rows import router as rows_router
from .state import SalesforceEmulator
from .token_holds import router as token_holds_router
from .tokens import OAuthError
from .web import router as web_router

DELAYED_PREFIXES = ("/services/data", "/id/", "/services/oauth2/userinfo")


class ConnectionDropped(Exception):
    """Raised mid-answer so that the server closes the connection (a lost answer)."""


class EmulatorMiddleware:
    """Latency switch, the "api" counter, and Sforce-Limit-Info on every REST answer."""

    def __init__(self, app: ASGIApp, state: SalesforceEmulator) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        call: list[float | None] = [time.monotonic(), None]
        if path.startswith("/services/data"):
            self.state.rest_calls.append(call)
        if path.startswith(DELAYED_PREFIXES) and self.state.latency_ms > 0:
            await asyncio.sleep(self.state.latency_ms / 1000)
        if not path.startswith("/services/data"):
            await self.app(scope, receive, send)
            return
        self.state.count("api")
        scope.setdefault("state", {})
        # Change events name the client a write came from (Sforce-Call-Options: client=...).
        options = dict(scope.get("headers") or []).get(b"sforce-call-options", b"")
        CALL_CLIENT.set(client_of(options.decode("latin-1")))

        async def send_with_limit_info(message: Message) -> None:
            lost = scope["state"].get("sf_lose_answer")
            if lost and message["type"] == "http.response.start":
                kind, seconds = lost
                if kind == "hang":
                    # The write happened; the answer comes after the client gave up.
                    await asyncio.sleep(seconds)
                elif kind == "drop":
                    # Headers promise a body that never comes: the connection is cut.
                    message["headers"] = [
                        (k, v) for k, v in message.get("headers", []) if k != b"content-length"
                    ] + [(b"content-length", b"4096")]
                    await send(message)
                    raise ConnectionDropped("answer lost on purpose (write fault)")
            if message["type"] == "http.response.start":
                org_id = scope["state"].get("sf_org_id")
                if org_id:
                    try:
                        org = self.state.org(org_id)
                    except KeyError:
                        org = None
                    if org is not None:
                        headers = list(message.get("headers", []))
                        headers.append(
                            (b"sforce-limit-info", self.state.limit_info(org).encode("ascii"))
                        )
                        message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_limit_info)
        finally:
            call[1] = time.monotonic()


def create_app(state: SalesforceEmulator) -> FastAPI:
    app = FastAPI(
        title="Salesforce emulator",
        docs_url="/__emulator/docs",
        redoc_url=None,
        openapi_url="/__emulator/openapi.json",
    )
    app.state.sf = state

    @app.exception_handler(SFError)
    async def _sf_error(_request: Request, exc: SFError) -> Response:
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(OAuthError)
    async def _oauth_error(_request: Request, exc: OAuthError) -> Response:
        body: dict[str, Any] = {"error": exc.error, "error_description": exc.description}
        return JSONResponse(body, status_code=exc.status)

    app.include_router(oauth_router)
    app.include_router(identity_router)
    app.include_router(rest_router)
    app.include_router(rows_router)
    app.include_router(web_router)
    app.include_router(admin_router)
    app.include_router(admin_enterprise_router)  # before admin_data's /orgs/{org}/{kind}
    app.include_router(admin_cdc_router)
    app.include_router(admin_data_router)
    app.include_router(approvals_router)
    app.include_router(client_credentials_router)
    app.include_router(token_holds_router)
    app.include_router(requests_router)
    app.add_middleware(EmulatorMiddleware, state=state)
    app.add_middleware(RecordRequests, log=state.requests)
    return app
