"""Connect, reauthorize and disconnect a workspace's Salesforce account.

No transaction is held across a Salesforce call: the state is consumed in its own short
transaction, the Salesforce calls (token exchange, identity, org name) run outside any, and
the connection is written in one last short transaction. A failure after the token exchange
stores nothing and revokes the grant just obtained, so abandoned grants do not pile up at
Salesforce (which keeps at most five per user and Connected App).

Workspaces one Salesforce user connected share that user's grant (app.models_grants): a
connect renews it for all of them and revokes the tokens it replaced; a disconnect revokes
only when no other workspace still uses it. The client credentials flow (an External Client
App with a run-as user) connects without a browser (app.connections.client_credentials).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from app import errors
from app.config import Settings
from app.connections import repository
from app.connections.checks import checked_login_url, checked_return_url
from app.connections.client_credentials import ClientCredentialsConnect
from app.connections.errors import ConnectFailed
from app.connections.outcomes import (
    ADMIN_GUIDANCE,
    Attempt,
    Connected,
    GrantKind,
    exchange_error,
    last_attempt,
    log_reason,
)
from app.connections.schemas import (
    ApiUsage,
    ConnectAttempt,
    ConnectionView,
    ConnectRequest,
    ConnectStarted,
    view_of,
)
from app.connections.stream_view import with_change_stream
from app.crypto import TokenCipher, sha256_hex
from app.db import Database
from app.kit.clocks import Now, utc_now
from app.models import ConnectionStatus, GrantMethod, OAuthState
from app.salesforce import oauth
from app.salesforce.client import SalesforceClient
from app.salesforce.errors import (
    ApiDisabled,
    SalesforceError,
    UnusableGrant,
)
from app.workspace.budget import ApiBudget

logger = logging.getLogger("app.connections")

STATE_TTL = timedelta(minutes=10)
# Used and expired states are kept a day for diagnosis, then swept on the next connect.
STATE_RETENTION = timedelta(days=1)
ORGANIZATION_NAME_SOQL = "SELECT Id, Name FROM Organization LIMIT 1"


class PurgeWorkspace(Protocol):
    """Drop what every replica caches for the workspace; `reason` is "connect" or
    "disconnect"."""

    def __call__(self, workspace_id: str, *, reason: str = ...) -> Awaitable[None]: ...


@dataclass(eq=False, repr=False, kw_only=True)
class ConnectionService(ClientCredentialsConnect):
    db: Database
    cipher: TokenCipher
    http: httpx.AsyncClient
    settings: Settings
    salesforce: SalesforceClient
    purge_workspace: PurgeWorkspace | None = None
    budget: ApiBudget | None = None
    now: Now = utc_now

    # -- connect ---------------------------------------------------------------------------

    async def start(
        self, workspace_id: str, user_id: str, request: ConnectRequest
    ) -> ConnectStarted | ConnectionView:
        """Web-server flow: the authorization link. Client credentials: connected at once."""
        if request.method == GrantMethod.CLIENT_CREDENTIALS:
            return await self.connect_client_credentials(workspace_id, user_id, request)
        login_url = checked_login_url(self.settings, request)
        return_url = checked_return_url(request.return_url, self.settings.return_hosts)
        authorization = oauth.authorization_request(self.settings, login_url)
        now = self.now()
        expires_at = now + STATE_TTL
        state = OAuthState(
            state_hash=sha256_hex(authorization.state),
            workspace_id=workspace_id,
            user_id=user_id,
            environment=request.environment,
            login_url=login_url,
            code_verifier_encrypted=self.cipher.encrypt(authorization.code_verifier),
            return_url=return_url,
            created_at=now,
            expires_at=expires_at,
        )
        await repository.add_state(self.db, state, sweep_before=now - STATE_RETENTION)
        logger.info(
            "salesforce.connect.started",
            extra={
                "workspace_id": workspace_id,
                "user_id": user_id,
                "environment": request.environment,
                "my_domain": bool(request.my_domain),
            },
        )
        return ConnectStarted(
            authorize_url=authorization.url, expires_at=expires_at, admin_guidance=ADMIN_GUIDANCE
        )

    async def complete(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
        error_description: str | None,
    ) -> Connected:
        """The callback: consume the state, exchange the code, read who connected, store."""
        # The state first: without a valid one, nothing of the request (an attacker's link
        # may carry any `error_description`) is shown on our domain.
        pending = await self._consume_state(state) if state else None
        if pending is None:
            logger.info("salesforce.connect.failed", extra={"reason": "state_invalid"})
            raise ConnectFailed(errors.OAuthStateInvalid())
        if error:
            self._log_failed(pending, f"authorize:{error[:64]}")
            if error == "access_denied":
                raise ConnectFailed(errors.SalesforceAccessDenied(), pending.return_url)
            raise ConnectFailed(
                errors.SalesforceAuthorizationFailed(
                    f"Salesforce answered: {error_description or error}. Nothing was connected."
                ),
                pending.return_url,
                salesforce_error=error,
            )
        if not code:
            self._log_failed(pending, "no_code")
            raise ConnectFailed(
                errors.SalesforceAuthorizationFailed("Salesforce sent no authorization code."),
                pending.return_url,
            )
        return await self._connect(pending, code)

    async def _consume_state(self, state: str) -> OAuthState | None:
        """Mark the state used, atomically; None when unknown, expired or already used."""
        return await repository.consume_state(self.db, sha256_hex(state), self.now())

    async def _connect(self, pending: OAuthState, code: str) -> Connected:
        try:
            tokens = await oauth.exchange_code(
                self.http,
                self.settings,
                pending.login_url,
                code,
                self.cipher.decrypt(pending.code_verifier_encrypted),
            )
        except SalesforceError as exc:
            self._log_failed(pending, f"token_exchange:{log_reason(exc)}")
            if isinstance(exc, UnusableGrant):
                # Salesforce issued a grant we refuse to use: hand it back.
                await self._revoke_token_quietly(pending.login_url, exc.token, pending.workspace_id)
            raise ConnectFailed(exchange_error(exc), pending.return_url) from exc
        return await self.verify_and_store(Attempt.of(pending), tokens, GrantKind())

    async def verify_and_store(
        self, attempt: Attempt, tokens: oauth.TokenAnswer, kind: GrantKind
    ) -> Connected:
        """Read who connected, prove the REST API usable, store; on any failure nothing is
        stored and the tokens just obtained are revoked."""
        try:
            identity = await oauth.fetch_identity(
                self.http, self.settings, tokens.identity_url, tokens.access_token
            )
            organization_name = await self._organization_name(tokens)
            connected, workspaces = await self._store(
                attempt, tokens, identity, organization_name, kind
            )
        except ConnectFailed:
            await self._revoke_quietly(attempt.login_url, tokens, attempt.workspace_id)
            raise
        except SalesforceError as exc:
            self._log_failed(attempt, f"verify:{log_reason(exc)}")
            await self._revoke_quietly(attempt.login_url, tokens, attempt.workspace_id)
            error = (
                errors.SalesforceApiDisabled()
                if isinstance(exc, ApiDisabled)
                else errors.SalesforceUnavailable()
            )
            raise ConnectFailed(error, attempt.return_url) from exc
        except BaseException:
            # Anything else (the database gone, a bug, a cancelled request): nothing is stored,
            # so the grant must not outlive this request either.
            await self._revoke_quietly(attempt.login_url, tokens, attempt.workspace_id)
            raise
        # Every replica drops its snapshot of each workspace using the grant (status, instance
        # URL, credentials) and its cached answers, so the new tokens are used everywhere.
        for workspace_id in workspaces:
            await self._purge_quietly(workspace_id, "connect")
        return connected

    async def _organization_name(self, tokens: oauth.TokenAnswer) -> str | None:
        """The org's name; also proves the REST API is usable (403 API_DISABLED_FOR_ORG)."""
        records = await self.salesforce.query_with_token(
            tokens.instance_url, tokens.access_token, ORGANIZATION_NAME_SOQL
        )
        return str(records[0].get("Name")) if records and records[0].get("Name") else None

    async def _store(
        self,
        attempt: Attempt,
        tokens: oauth.TokenAnswer,
        identity: oauth.Identity,
        organization_name: str | None,
        kind: GrantKind,
    ) -> tuple[Connected, list[str]]:
        webhook_key = secrets.token_urlsafe(32)
        now = self.now()
        values = {
            "status": ConnectionStatus.CONNECTED.value,
            "environment": attempt.environment,
            "login_url": attempt.login_url,
            "instance_url": tokens.instance_url,
            "identity_url": tokens.identity_url,
            "organization_name": organization_name,
            "user_id": identity.user_id,
            "username": identity.username,
            "user_display_name": identity.display_name,
            "user_email": identity.email,
            "scopes": tokens.scopes,
            "webhook_key_hash": sha256_hex(webhook_key),
            "webhook_key_encrypted": self.cipher.encrypt(webhook_key),
            "connected_at": now,
            "connected_by": attempt.user_id,
            "status_reason": None,
            "status_detail": None,
            "keepalive_claimed_at": None,
        }
        grant_values = {
            "method": kind.method.value,
            "organization_id": identity.organization_id,
            "user_id": identity.user_id,
            "login_url": attempt.login_url,
            "client_id": kind.client_id,
            "client_secret_encrypted": (
                self.cipher.encrypt(kind.client_secret) if kind.client_secret else None
            ),
            "access_token_encrypted": self.cipher.encrypt(tokens.access_token),
            "refresh_token_encrypted": (
                self.cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None
            ),
            "issued_at": now,
            "tokens_refreshed_at": None,
            "refresh_not_before": None,
        }
        try:
            saved = await repository.save_connection(
                self.db, attempt.workspace_id, identity.organization_id, values, grant_values
            )
        except repository.OtherOrganization as other:
            self._log_failed(attempt, "other_organization")
            raise ConnectFailed(
                errors.SalesforceAlreadyConnected(
                    "This workspace is connected to the Salesforce organization "
                    f"{other.organization}. Disconnect it first to connect another "
                    "organization."
                ),
                attempt.return_url,
            ) from None
        view = view_of(saved.row, saved.grant, len(saved.workspaces))
        await with_change_stream(view, self.db, saved.row.organization_id, self.settings)
        for retired in saved.retired:
            # The replaced tokens of a renewed grant, or a grant no workspace uses any more.
            old = self.cipher.decrypt(
                retired.refresh_token_encrypted or retired.access_token_encrypted
            )
            if old not in (tokens.refresh_token, tokens.access_token):
                await self._revoke_token_quietly(retired.login_url, old, attempt.workspace_id)
        logger.info(
            "salesforce.connect.completed",
            extra={
                "workspace_id": attempt.workspace_id,
                "organization_id": identity.organization_id,
                "user_id": attempt.user_id,
                "method": kind.method.value,
                "reauthorized": saved.existed,
                "shared_grant_workspaces": len(saved.workspaces),
            },
        )
        connected = Connected(
            connection=view, return_url=attempt.return_url, reauthorized=saved.existed
        )
        return connected, saved.workspaces

    def _log_failed(self, pending: OAuthState | Attempt, reason: str) -> None:
        logger.info(
            "salesforce.connect.failed",
            extra={"workspace_id": pending.workspace_id, "reason": reason},
        )

    async def _revoke_quietly(
        self, login_url: str, tokens: oauth.TokenAnswer, workspace_id: str
    ) -> None:
        await self._revoke_token_quietly(
            login_url, tokens.refresh_token or tokens.access_token, workspace_id
        )

    async def _revoke_token_quietly(self, login_url: str, token: str, workspace_id: str) -> bool:
        try:
            await oauth.revoke(self.http, self.settings, login_url, token)
        except SalesforceError as exc:
            logger.warning(
                "salesforce.revoke.failed",
                extra={"workspace_id": workspace_id, "reason": log_reason(exc)},
            )
            return False
        return True

    # -- read ------------------------------------------------------------------------------

    async def status(self, workspace_id: str) -> ConnectionView:
        found = await repository.connection_of(self.db, workspace_id)
        view = view_of(*found) if found is not None else ConnectionView.disconnected()
        if found is not None and self.budget is not None:
            usage = await self.budget.summary(workspace_id, found[0].organization_id)
            if usage is not None:
                view.api_usage = ApiUsage.model_validate(usage)
        view.last_connect_attempt = await self._last_attempt(
            workspace_id, found[0].connected_at if found is not None else None
        )
        if found is not None:
            await with_change_stream(view, self.db, found[0].organization_id, self.settings)
        return view

    async def _last_attempt(
        self, workspace_id: str, connected_at: datetime | None
    ) -> ConnectAttempt | None:
        """The last browser connect, while it has not come back (states are kept a day)."""
        state = await repository.latest_state(self.db, workspace_id)
        return last_attempt(state, connected_at, self.now())

    async def _purge_quietly(self, workspace_id: str, event: str) -> None:
        if self.purge_workspace is None:
            return
        try:
            await self.purge_workspace(workspace_id, reason=event)
        except Exception as exc:  # noqa: BLE001 - the connect or disconnect itself has happened
            logger.exception(
                f"salesforce.{event}.purge_failed",
                extra={"workspace_id": workspace_id, "error": type(exc).__name__},
            )

    # -- disconnect ------------------------------------------------------------------------

    async def disconnect(self, workspace_id: str, user_id: str) -> None:
        """Delete the row, and the grant with its tokens and secret when no other workspace
        uses it (then revoke it, best effort); purge caches. Settings stay. Idempotent."""
        row, retired = await repository.delete_connection(self.db, workspace_id)
        revoked = False
        if retired is not None:
            # The last workspace using the grant: revoke it. While another still uses it,
            # no revoke call of any kind is made.
            secret = retired.refresh_token_encrypted or retired.access_token_encrypted
            revoked = await self._revoke_token_quietly(
                retired.login_url, self.cipher.decrypt(secret), workspace_id
            )
        await self._purge_quietly(workspace_id, "disconnect")
        logger.info(
            "salesforce.disconnect",
            extra={
                "workspace_id": workspace_id,
                "user_id": user_id,
                "organization_id": row.organization_id if row else None,
                "was_connected": row is not None,
                "grant_still_used": row is not None and retired is None,
                "revoked": revoked,
            },
        )
