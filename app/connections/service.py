"""Connect, reauthorize and disconnect a workspace's Salesforce account.

No transaction is held across a Salesforce call: the state is consumed in its own short
transaction, the Salesforce calls (token exchange, identity, org name) run outside any, and
the connection is written in one last short transaction. A failure after the token exchange
stores nothing and revokes the grant just obtained, so abandoned grants do not pile up at
Salesforce (which keeps at most five per user and Connected App).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from app import errors
from app.config import Settings
from app.connections import repository
from app.connections.errors import ConnectFailed, invalid
from app.connections.schemas import (
    ApiUsage,
    ConnectionView,
    ConnectRequest,
    ConnectStarted,
    view_of,
)
from app.crypto import TokenCipher, sha256_hex
from app.db import Database
from app.models import ConnectionStatus, OAuthState
from app.salesforce import oauth
from app.salesforce.client import SalesforceClient
from app.salesforce.errors import (
    ApiDisabled,
    ClientRejected,
    HostNotAllowed,
    LoginRestricted,
    OAuthError,
    SalesforceError,
    UnusableGrant,
)
from app.salesforce.hosts import is_host
from app.workspace.budget import ApiBudget

logger = logging.getLogger("app.connections")

STATE_TTL = timedelta(minutes=10)
# Used and expired states are kept a day for diagnosis, then swept on the next connect.
STATE_RETENTION = timedelta(days=1)
ORGANIZATION_NAME_SOQL = "SELECT Id, Name FROM Organization LIMIT 1"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class PurgeWorkspace(Protocol):
    """Drop what every replica caches for the workspace; `reason` is "connect" or
    "disconnect"."""

    def __call__(self, workspace_id: str, *, reason: str = ...) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class Connected:
    connection: ConnectionView
    return_url: str | None
    reauthorized: bool


@dataclass(eq=False, repr=False, kw_only=True)
class ConnectionService:
    db: Database
    cipher: TokenCipher
    http: httpx.AsyncClient
    settings: Settings
    salesforce: SalesforceClient
    purge_workspace: PurgeWorkspace | None = None
    budget: ApiBudget | None = None

    # -- connect ---------------------------------------------------------------------------

    async def start(
        self, workspace_id: str, user_id: str, request: ConnectRequest
    ) -> ConnectStarted:
        try:
            login_url = oauth.login_url_for(self.settings, request.environment, request.my_domain)
        except ValueError as exc:
            raise invalid("my_domain", str(exc)) from exc
        return_url = self._checked_return_url(request.return_url)
        authorization = oauth.authorization_request(self.settings, login_url)
        now = datetime.now(UTC)
        expires_at = now + STATE_TTL
        state = OAuthState(
            state_hash=sha256_hex(authorization.state),
            workspace_id=workspace_id,
            user_id=user_id,
            environment=request.environment,
            login_url=login_url,
            code_verifier_encrypted=self.cipher.encrypt(authorization.code_verifier),
            return_url=return_url,
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
        return ConnectStarted(authorize_url=authorization.url, expires_at=expires_at)

    def _checked_return_url(self, return_url: str | None) -> str | None:
        if not return_url:
            return None
        parts = urlsplit(return_url)
        host = (parts.hostname or "").lower()
        netloc = parts.netloc.lower()
        allowed = self.settings.return_hosts
        if parts.scheme not in {"https", "http"} or not host or parts.username or parts.password:
            raise invalid("return_url", "must be an https URL")
        if host != "::1" and not is_host(parts.netloc, allow_port=True):
            raise invalid("return_url", "its host may hold only letters, digits, '-' and '.'")
        if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
            raise invalid("return_url", "must be an https URL")
        if host not in allowed and netloc not in allowed:
            raise invalid("return_url", "its host is not an allowed return host")
        return return_url

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
        return await repository.consume_state(self.db, sha256_hex(state), datetime.now(UTC))

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
            self._log_failed(pending, f"token_exchange:{_reason(exc)}")
            if isinstance(exc, UnusableGrant):
                # Salesforce issued a grant we refuse to use: hand it back.
                await self._revoke_token_quietly(pending.login_url, exc.token, pending.workspace_id)
            raise ConnectFailed(_exchange_error(exc), pending.return_url) from exc
        try:
            identity = await oauth.fetch_identity(
                self.http, self.settings, tokens.identity_url, tokens.access_token
            )
            organization_name = await self._organization_name(tokens)
            connected = await self._store(pending, tokens, identity, organization_name)
        except ConnectFailed:
            await self._revoke_quietly(pending.login_url, tokens, pending.workspace_id)
            raise
        except SalesforceError as exc:
            self._log_failed(pending, f"verify:{_reason(exc)}")
            await self._revoke_quietly(pending.login_url, tokens, pending.workspace_id)
            error = (
                errors.SalesforceApiDisabled()
                if isinstance(exc, ApiDisabled)
                else errors.SalesforceUnavailable()
            )
            raise ConnectFailed(error, pending.return_url) from exc
        except BaseException:
            # Anything else (the database gone, a bug, a cancelled request): nothing is stored,
            # so the grant must not outlive this request either.
            await self._revoke_quietly(pending.login_url, tokens, pending.workspace_id)
            raise
        # Every replica drops its snapshot of the workspace (status, instance URL) and its
        # cached answers, so a reconnect is usable everywhere at once.
        await self._purge_quietly(pending.workspace_id, "connect")
        return connected

    async def _organization_name(self, tokens: oauth.TokenAnswer) -> str | None:
        """The org's name; also proves the REST API is usable (403 API_DISABLED_FOR_ORG)."""
        records = await self.salesforce.query_with_token(
            tokens.instance_url, tokens.access_token, ORGANIZATION_NAME_SOQL
        )
        return str(records[0].get("Name")) if records and records[0].get("Name") else None

    async def _store(
        self,
        pending: OAuthState,
        tokens: oauth.TokenAnswer,
        identity: oauth.Identity,
        organization_name: str | None,
    ) -> Connected:
        webhook_key = secrets.token_urlsafe(32)
        values = {
            "status": ConnectionStatus.CONNECTED.value,
            "environment": pending.environment,
            "login_url": pending.login_url,
            "instance_url": tokens.instance_url,
            "identity_url": tokens.identity_url,
            "organization_name": organization_name,
            "user_id": identity.user_id,
            "username": identity.username,
            "user_display_name": identity.display_name,
            "user_email": identity.email,
            "scopes": tokens.scopes,
            "access_token_encrypted": self.cipher.encrypt(tokens.access_token),
            "refresh_token_encrypted": (
                self.cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None
            ),
            "webhook_key_hash": sha256_hex(webhook_key),
            "webhook_key_encrypted": self.cipher.encrypt(webhook_key),
            "connected_at": datetime.now(UTC),
            "connected_by": pending.user_id,
            "tokens_refreshed_at": None,
            "status_reason": None,
            "status_detail": None,
            "refresh_not_before": None,
            "keepalive_claimed_at": None,
        }
        try:
            row, replaced_refresh, reauthorized = await repository.save_connection(
                self.db, pending.workspace_id, identity.organization_id, values
            )
        except repository.OtherOrganization as other:
            self._log_failed(pending, "other_organization")
            raise ConnectFailed(
                errors.SalesforceAlreadyConnected(
                    "This workspace is connected to the Salesforce organization "
                    f"{other.organization}. Disconnect it first to connect another "
                    "organization."
                ),
                pending.return_url,
            ) from None
        view = view_of(row)
        if replaced_refresh:
            old = self.cipher.decrypt(replaced_refresh)
            if old != tokens.refresh_token:
                await self._revoke_token_quietly(pending.login_url, old, pending.workspace_id)
        logger.info(
            "salesforce.connect.completed",
            extra={
                "workspace_id": pending.workspace_id,
                "organization_id": identity.organization_id,
                "user_id": pending.user_id,
                "reauthorized": reauthorized,
            },
        )
        return Connected(connection=view, return_url=pending.return_url, reauthorized=reauthorized)

    def _log_failed(self, pending: OAuthState, reason: str) -> None:
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
                extra={"workspace_id": workspace_id, "reason": _reason(exc)},
            )
            return False
        return True

    # -- read ------------------------------------------------------------------------------

    async def status(self, workspace_id: str) -> ConnectionView:
        row = await repository.connection_of(self.db, workspace_id)
        view = view_of(row)
        if row is not None and self.budget is not None:
            usage = await self.budget.summary(workspace_id, row.organization_id)
            if usage is not None:
                view.api_usage = ApiUsage.model_validate(usage)
        return view

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
        """Delete the row (tokens gone), revoke the grant (best effort), purge caches.
        Settings stay. Idempotent."""
        row = await repository.delete_connection(self.db, workspace_id)
        revoked = False
        if row is not None:
            secret = row.refresh_token_encrypted or row.access_token_encrypted
            revoked = await self._revoke_token_quietly(
                row.login_url, self.cipher.decrypt(secret), workspace_id
            )
        await self._purge_quietly(workspace_id, "disconnect")
        logger.info(
            "salesforce.disconnect",
            extra={
                "workspace_id": workspace_id,
                "user_id": user_id,
                "organization_id": row.organization_id if row else None,
                "was_connected": row is not None,
                "revoked": revoked,
            },
        )


def _reason(exc: SalesforceError) -> str:
    """A log-safe failure reason: the error kind and code, never a response body."""
    return f"{type(exc).__name__}:{exc.error_code}"[:120]


def _exchange_error(exc: SalesforceError) -> errors.AppError:
    if isinstance(exc, UnusableGrant) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, HostNotAllowed):
        return errors.SalesforceUnavailable(
            "Salesforce answered with an address outside Salesforce's domains; nothing was "
            "connected."
        )
    if isinstance(exc, LoginRestricted):
        return errors.SalesforceLoginRestricted()
    if isinstance(exc, ClientRejected):
        return errors.SalesforceClientRejected()
    if isinstance(exc, OAuthError):
        return errors.SalesforceUnavailable(
            "Salesforce refused the authorization code "
            f"({exc.description or exc.error}). Start connecting again."
        )
    return errors.SalesforceUnavailable()
