"""The OAuth 2.0 client credentials flow: an External Client App of one org with the flow
enabled and a "run as" user gets access tokens for its consumer key and secret, without a
browser and without a refresh token.

Errors as Salesforce gives them: an unknown consumer key `invalid_client_id`, a wrong secret
`invalid_client`, the flow not enabled (or no run-as user) `invalid_grant` "no client
credentials user enabled", an inactive run-as user `invalid_grant`. A run-as user without
"API Enabled" gets a token, and REST answers 403 (as for any user without API access).

Mixed into SalesforceEmulator, like tokens.TokenStore.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .apps import ConnectedApp
from .tokens import AccessToken, Grant, OAuthError

if TYPE_CHECKING:
    from .clock import Clock
    from .models import Org, User

router = APIRouter(prefix="/__emulator")
NOT_ENABLED = ("invalid_grant", "no client credentials user enabled")
CLIENT_CREDENTIALS_SCOPE = "api"


class ClientCredentials:
    _lock: threading.RLock
    apps: dict[str, ConnectedApp]
    grants: dict[str, Grant]
    clock: Clock

    if TYPE_CHECKING:  # provided by SalesforceEmulator and TokenStore

        def org(self, org_id: str) -> Org: ...
        def user(self, org_id: str, user_id: str) -> User | None: ...
        def check_client(self, client_id: str | None, client_secret: str | None) -> None: ...
        def _issue_access(self, grant: Grant) -> AccessToken: ...

    def add_client_credentials_app(
        self,
        org_id: str,
        run_as_user_id: str | None,
        *,
        enabled: bool = True,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> ConnectedApp:
        """An External Client App of `org_id` whose client credentials flow runs as the user."""
        org = self.org(org_id)
        app = ConnectedApp(
            client_id=client_id or "3MVG9" + secrets.token_urlsafe(60).replace("-", "."),
            client_secret=client_secret or secrets.token_hex(32).upper(),
            callback_urls=[],
            run_as=(org.id, run_as_user_id) if run_as_user_id else None,
            client_credentials_enabled=enabled,
        )
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def client_credentials_token(
        self, client_id: str | None, client_secret: str | None
    ) -> AccessToken:
        # The secret is required: an absent one is a wrong one.
        self.check_client(client_id, client_secret or "")
        with self._lock:
            app = self.apps[client_id or ""]
            if not app.client_credentials_enabled or app.run_as is None:
                raise OAuthError(*NOT_ENABLED)
            org_id, user_id = app.run_as
            user = self.user(org_id, user_id)
            if user is None or not user.active:
                raise OAuthError("invalid_grant", "user is inactive")
            grant = Grant(
                id=secrets.token_hex(8),
                org_id=org_id,
                user_id=user.id,
                client_id=app.client_id,
                scope=CLIENT_CREDENTIALS_SCOPE,
                refresh_token=None,
                last_used=self.clock.time(),
                flow="client_credentials",
            )
            self.grants[grant.id] = grant
            return self._issue_access(grant)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = (await request.json()) if raw.strip() else {}
    return data if isinstance(data, dict) else {}


@router.post("/client-credentials-apps")
async def create_app(request: Request) -> Response:
    """{"org_id", "run_as" (username or user id; null: none), "enabled", "client_id",
    "client_secret"} -> 201 the app (with its consumer key and secret)."""
    body = await _body(request)
    state = request.app.state.sf
    try:
        org = state.org(str(body.get("org_id", "")))
    except KeyError:
        return JSONResponse({"error": "not found: org"}, status_code=404)
    run_as = body.get("run_as", org.default_user.id)
    user_id = None
    if run_as:
        found = state.find_user(str(run_as)) or next(
            ((org, u) for u in org.users.values() if u.id == run_as), None
        )
        if found is None:
            return JSONResponse({"error": "not found: user"}, status_code=404)
        user_id = found[1].id
    app = state.add_client_credentials_app(
        org.id,
        user_id,
        enabled=bool(body.get("enabled", True)),
        client_id=body.get("client_id"),
        client_secret=body.get("client_secret"),
    )
    return JSONResponse(app.as_json(), status_code=201)


@router.patch("/client-credentials-apps/{client_id}")
async def change_app(request: Request, client_id: str) -> Response:
    """{"enabled": bool, "client_secret": str} (any subset): turn the flow off, rotate."""
    body = await _body(request)
    state = request.app.state.sf
    with state._lock:
        app = state.apps.get(client_id)
        if app is None or app.run_as is None:
            return JSONResponse({"error": "not found: app"}, status_code=404)
        if "enabled" in body:
            app.client_credentials_enabled = bool(body["enabled"])
        if "client_secret" in body:
            app.client_secret = str(body["client_secret"])
        return JSONResponse(app.as_json())
