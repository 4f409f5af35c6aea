"""`/dev/sidebar`: the integration as an agent sees it in respond.io's contact sidebar.

Served only with ENVIRONMENT=development (`make run`). The page is plain HTML and JavaScript
(static/) calling the public API exactly as respond.io's own services do: lookup, edit,
revert and history, plus connection and settings for its toolbar. The one extra route mints a
development token for the page, so nothing has to be copied by hand (a token may be pasted
instead).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from app.auth import mint_token
from app.config import DEV_JWT_SECRET, Settings
from app.errors import Forbidden

STATIC = Path(__file__).parent / "static"
DEMO_TIMEOUT = 10.0
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}


def preview_router(settings: Settings) -> APIRouter:
    """The preview's routes; its token route mints with these settings."""
    router = APIRouter(prefix="/dev/sidebar", include_in_schema=False)

    @router.get("")
    async def page() -> FileResponse:
        return FileResponse(STATIC / "sidebar.html", media_type="text/html", headers=PAGE_HEADERS)

    @router.get("/{name}", name="sidebar-preview-asset")
    async def asset(name: Literal["sidebar.js", "sidebar.css"]) -> FileResponse:
        return FileResponse(
            STATIC / name, media_type=MEDIA_TYPES[Path(name).suffix], headers=PAGE_HEADERS
        )

    @router.post("/token")
    async def development_token(
        request: Request,
        workspace: Annotated[str, Query(min_length=1, max_length=64)],
        role: Annotated[Literal["owner", "manager", "agent"], Query()] = "owner",
        user: Annotated[str, Query(min_length=1, max_length=64)] = "preview-user",
    ) -> JSONResponse:
        refusal = _minting_refused(settings, request)
        if refusal:
            raise Forbidden(refusal)
        token = mint_token(settings, workspace_id=workspace, role=role, user_id=user, ttl=8 * 3600)
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})

    @router.post("/demo-conversation")
    async def demo_conversation(body: DemoConversation) -> JSONResponse:
        """Have the respond.io emulator close a conversation with `email` and deliver its
        signed `conversation.closed` event to the service's webhook, as respond.io would."""
        emulator = settings.respondio_api_base_url.rstrip("/").removesuffix("/v2")
        seed = {
            "token": body.respondio_token,
            "contact": {
                "firstName": body.first_name,
                "lastName": body.last_name,
                "email": body.email,
            },
            "agent": {"firstName": "Sam", "lastName": "Seller", "email": "sales@acme.example"},
            "messages": [{"traffic": t, "text": text} for t, text in DEMO_MESSAGES],
        }
        async with httpx.AsyncClient(base_url=emulator, timeout=DEMO_TIMEOUT) as http:
            hook = {"token": body.respondio_token, "url": body.url, "signing_key": body.signing_key}
            (await http.post("/__emulator/webhooks", json=hook)).raise_for_status()
            seeded = (await http.post("/__emulator/conversations", json=seed)).raise_for_status()
            close = {
                "token": body.respondio_token,
                "contact_id": seeded.json()["contact"]["id"],
                "category": "Resolved",
                "summary": "Asked where order 1234 is; sent the tracking link.",
            }
            closed = (
                await http.post("/__emulator/conversations/close", json=close)
            ).raise_for_status()
        answer = closed.json()
        return JSONResponse(
            {"event_id": answer["event"]["event_id"], "deliveries": answer["deliveries"]}
        )

    return router


def _minting_refused(settings: Settings, request: Request) -> str | None:
    """Why no token may be minted for this request, or None. A token signed with a real
    secret would be accepted wherever that secret is, and anyone who can reach the port
    could mint one: only the development secret, only for callers on this machine."""
    if settings.service_jwt_secret != DEV_JWT_SECRET:
        return "Tokens are minted only with the development secret; paste a token instead."
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return "Tokens are minted only for callers on this machine (loopback)."
    return None


DEMO_MESSAGES = (
    ("incoming", "Hi, where is my order 1234?"),
    ("outgoing", "Hello! Let me check that for you."),
    ("outgoing", "It left our warehouse yesterday: https://track.example/1234"),
    ("incoming", "Great, thanks!"),
)


class DemoConversation(BaseModel):
    url: str = Field(max_length=2000, description="The webhook URL the service answered.")
    signing_key: str = Field(max_length=1000)
    respondio_token: str = Field(max_length=1000)
    email: str = Field(max_length=320)
    first_name: str = Field("Ana", max_length=100)
    last_name: str = Field("Souza", max_length=100)


def install_sidebar_preview(app: FastAPI, settings: Settings) -> None:
    """Add the preview to a development app; anywhere else it does not exist (404)."""
    if settings.environment == "development":
        app.include_router(preview_router(settings))
