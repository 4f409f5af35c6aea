"""Stored Salesforce credentials and the single-flight token refresh.

Refresh-token rotation makes a refresh race fatal: reusing a rotated-out refresh token revokes
the whole grant. So refreshes for one workspace collapse into one, in two layers:

1. in-process: one asyncio task per workspace; every concurrent caller awaits it;
2. across processes: a PostgreSQL session-level advisory lock per workspace, taken on an
   AUTOCOMMIT connection (no transaction stays open across the HTTP call). Inside the lock the
   row is re-read; if its access token is no longer the one that failed, another process has
   refreshed already and that token is reused.

The new access token, the (rotated) refresh token and `instance_url` are stored together.
A dead grant (`invalid_grant`, `inactive_user`, `inactive_org`) marks the connection
`reauthorization_required` with a reason. Refusals that keep the connection (the token
endpoint's rate limit, "ip restricted or invalid login hours", our app's client refused) hold
further refreshes back for a while (`refresh_not_before`), so no path refreshes in a loop.
`keep_alive` refreshes a quiet connection before Salesforce's idle expiry ends it.

Credentials in memory. An uncached lookup used to read (and decrypt) the connection row in
a transaction of its own: three PostgreSQL round trips per Salesforce call. `for_context`
now serves the decrypted credentials kept per workspace, checked against the snapshot's
connection id (a reconnect is a new id, so another grant's token is never used), for at most
`CREDENTIALS_TTL_SECONDS`. They are replaced by a refresh in this process and dropped by
`forget` (connect, disconnect, a purge from another replica, a grant marked dead, a
keep-alive refresh). A refresh by another process makes the kept token stale: Salesforce
answers 401 and `refresh` finds the newer token in the row and reuses it (one extra call, no
new refresh), as it always did for an expired token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.config import Settings
from app.crypto import TokenCipher
from app.db import Database
from app.errors import SalesforceClientRejected, SalesforceLoginRestricted
from app.kit.clocks import Clock, Now, monotonic, utc_now
from app.kit.singleflight import SingleFlight
from app.models import Connection, ConnectionStatus
from app.salesforce import oauth
from app.salesforce.client import Credentials
from app.salesforce.errors import (
    ClientRejected,
    HostNotAllowed,
    InvalidGrant,
    LoginRestricted,
    NotConnected,
    ReauthorizationRequired,
    SalesforceError,
    SalesforceUnavailable,
    TokenRateLimited,
)
from app.salesforce.hosts import instance_origin
from app.workspace import repository
from app.workspace.budget import ApiBudget
from app.workspace.context import ContextChanged, WorkspaceContext

logger = logging.getLogger("app.salesforce.tokens")

CREDENTIALS_TTL_SECONDS = 300.0
CREDENTIALS_MAX_WORKSPACES = 50_000

# Whether the row's grant must be refreshed now (the row, its current credentials).
_Needed = Callable[[Connection, "Credentials"], bool]


@dataclass(eq=False, repr=False)
class TokenStore:
    """The `TokenSource` of the Salesforce client: credentials from the connection row."""

    db: Database
    cipher: TokenCipher
    http: httpx.AsyncClient
    settings: Settings
    _: KW_ONLY
    now: Now = utc_now
    ttl_seconds: float = CREDENTIALS_TTL_SECONDS
    clock: Clock = monotonic
    budget: ApiBudget | None = None
    _refreshes: SingleFlight[str, Credentials] = field(init=False, default_factory=SingleFlight)
    # workspace -> (credentials, read at): insertion order is the eviction order.
    _held: dict[str, tuple[Credentials, float]] = field(init=False, default_factory=dict)
    # Bumped by `forget`: a read that began before it must not be kept.
    _generation: dict[str, int] = field(init=False, default_factory=dict)

    async def credentials(self, workspace_id: str) -> Credentials:
        """Read from the connection row (no memory): for callers without a snapshot."""
        return self._usable(await repository.connection_of(self.db, workspace_id))

    async def for_context(self, context: WorkspaceContext) -> Credentials:
        """The credentials of the connection the snapshot describes, from memory when held;
        ContextChanged when the workspace has connected again since the snapshot was taken."""
        workspace_id = context.workspace_id
        held = self._held.get(workspace_id)
        if (
            held is not None
            and held[0].connection_id == context.connection_id
            and self.clock() - held[1] < self.ttl_seconds
        ):
            return held[0]
        generation = self._generation.get(workspace_id, 0)
        credentials = await self.credentials(workspace_id)
        if credentials.connection_id != context.connection_id:
            raise ContextChanged()
        if self._generation.get(workspace_id, 0) == generation:
            self._keep(credentials)
        return credentials

    def forget(self, workspace_id: str) -> None:
        """Drop the workspace's credentials kept in memory (connect, disconnect, purge)."""
        self._held.pop(workspace_id, None)
        self._generation[workspace_id] = self._generation.get(workspace_id, 0) + 1
        if len(self._generation) > 2 * CREDENTIALS_MAX_WORKSPACES:
            self._generation.clear()  # reads in flight may then keep what they read: harmless

    async def forget_async(self, workspace_id: str) -> None:
        """`forget`, as an `Invalidation` purge."""
        self.forget(workspace_id)

    @property
    def held_workspaces(self) -> int:
        return len(self._held)

    def _keep(self, credentials: Credentials) -> None:
        self._held.pop(credentials.workspace_id, None)
        while len(self._held) >= CREDENTIALS_MAX_WORKSPACES:
            self._held.pop(next(iter(self._held)))
        self._held[credentials.workspace_id] = (credentials, self.clock())

    def _usable(self, row: Connection | None) -> Credentials:
        if row is None:
            raise NotConnected()
        if row.status == ConnectionStatus.REAUTHORIZATION_REQUIRED:
            raise ReauthorizationRequired(row.status_reason, row.status_detail)
        return Credentials(
            connection_id=row.id,
            workspace_id=row.workspace_id,
            organization_id=row.organization_id,
            instance_url=row.instance_url,
            access_token=self.cipher.decrypt(row.access_token_encrypted),
        )

    async def refresh(self, workspace_id: str, stale_access_token: str) -> Credentials:
        """New credentials after `stale_access_token` was refused; one refresh at a time."""
        self._held.pop(workspace_id, None)
        generation = self._generation.get(workspace_id, 0)
        credentials = await self._refreshes.run(
            workspace_id,
            lambda: self._refresh_across_processes(
                workspace_id, lambda row, current: current.access_token == stale_access_token
            ),
        )
        if self._generation.get(workspace_id, 0) == generation:
            self._keep(credentials)
        return credentials

    async def keep_alive(self, workspace_id: str, refreshed_before: datetime) -> bool:
        """Refresh the grant when its last refresh (or the connect) is older than
        `refreshed_before`, so Salesforce's idle refresh-token expiry never ends a quiet
        connection. True when a refresh was made. Same single flight and lock as `refresh`."""
        refreshed: list[bool] = []

        def due(row: Connection, current: Credentials) -> bool:
            refreshed.append(last_refreshed(row) < refreshed_before)
            return refreshed[-1]

        await self._refreshes.run(
            f"keepalive:{workspace_id}", lambda: self._refresh_across_processes(workspace_id, due)
        )
        if refreshed and refreshed[-1]:
            self.forget(workspace_id)
        return bool(refreshed and refreshed[-1])

    async def _refresh_across_processes(self, workspace_id: str, needed: _Needed) -> Credentials:
        async with repository.refresh_lock(self.db, workspace_id):
            return await self._refresh_locked(workspace_id, needed)

    async def _refresh_locked(self, workspace_id: str, needed: _Needed) -> Credentials:
        row = await repository.connection_of(self.db, workspace_id)
        current = self._usable(row)
        assert row is not None
        if not needed(row, current):
            logger.info("salesforce.token.reused", extra={"workspace_id": workspace_id})
            return current
        if not row.refresh_token_encrypted:
            await self._mark_reauthorization_required(row, "no_refresh_token", NO_REFRESH_TOKEN)
            raise ReauthorizationRequired("no_refresh_token", NO_REFRESH_TOKEN)
        now = self.now()
        if row.refresh_not_before is not None and row.refresh_not_before > now:
            raise held_back(row.status_reason, row.status_detail, row.refresh_not_before - now)
        if self.budget is not None:
            self.budget.count(workspace_id, "token")
        try:
            answer = await oauth.refresh_access_token(
                self.http,
                self.settings,
                row.login_url,
                self.cipher.decrypt(row.refresh_token_encrypted),
            )
        except InvalidGrant as exc:
            reason, detail = dead_grant(exc)
            await self._mark_reauthorization_required(row, reason, detail)
            raise ReauthorizationRequired(reason, detail) from exc
        except (TokenRateLimited, LoginRestricted, ClientRejected) as exc:
            reason, detail, wait = refused_for_now(exc)
            await repository.hold_back_refresh(self.db, row.id, reason, detail, now + wait)
            logger.warning(
                "salesforce.token.held_back",
                extra={"workspace_id": workspace_id, "reason": reason, "seconds": wait.seconds},
            )
            raise held_back(reason, detail, wait) from exc
        try:
            instance_url = instance_origin(
                str(answer.get("instance_url") or row.instance_url), self.settings
            )
        except HostNotAllowed as exc:
            # Nothing of this answer is stored: the connection keeps its instance URL and
            # the next call refreshes again.
            logger.warning(
                "salesforce.token.refused",
                extra={"workspace_id": workspace_id, "reason": "instance_url"},
            )
            raise SalesforceUnavailable("the token answer's instance URL is refused") from exc
        values: dict[str, Any] = {
            "access_token_encrypted": self.cipher.encrypt(str(answer["access_token"])),
            "instance_url": instance_url,
            "tokens_refreshed_at": now,
            "status_reason": None,
            "status_detail": None,
            "refresh_not_before": None,
        }
        rotated = bool(answer.get("refresh_token"))
        if rotated:
            values["refresh_token_encrypted"] = self.cipher.encrypt(str(answer["refresh_token"]))
        await repository.update_tokens(self.db, row.id, values)
        logger.info(
            "salesforce.token.refreshed",
            extra={
                "workspace_id": workspace_id,
                "organization_id": row.organization_id,
                "rotated": rotated,
            },
        )
        return Credentials(
            connection_id=row.id,
            workspace_id=workspace_id,
            organization_id=row.organization_id,
            instance_url=instance_url,
            access_token=str(answer["access_token"]),
        )

    async def _mark_reauthorization_required(
        self, row: Connection, reason: str, detail: str
    ) -> None:
        self.forget(row.workspace_id)
        await repository.mark_reauthorization_required(self.db, row.id, reason, detail)
        logger.warning(
            "salesforce.connection.reauthorization_required",
            extra={"workspace_id": row.workspace_id, "reason": reason},
        )


def last_refreshed(row: Connection) -> datetime:
    """When the grant was last used to refresh (or obtained)."""
    return row.tokens_refreshed_at or row.connected_at


RECONNECT = "An owner or manager must reconnect Salesforce in Workspace Settings > Integrations."
NO_REFRESH_TOKEN = f"Salesforce gave no refresh token for this connection. {RECONNECT}"
_DEAD_GRANTS = {
    "inactive_user": (
        "user_inactive",
        "The Salesforce user who connected was deactivated. Another Salesforce user must "
        "reconnect Salesforce in Workspace Settings > Integrations.",
    ),
    "inactive_org": (
        "org_inactive",
        "The Salesforce organization is inactive (for example an expired trial or a suspended "
        f"org). Once it is active again, {RECONNECT[0].lower()}{RECONNECT[1:]}",
    ),
}
# How long refreshes are held back after each kind of refusal.
HOLD_BACK = {
    "token_rate_limited": timedelta(seconds=60),
    "login_restricted": timedelta(minutes=5),
    "client_rejected": timedelta(minutes=5),
}


def dead_grant(exc: InvalidGrant) -> tuple[str, str]:
    """The reason and the sentence stored with `reauthorization_required`."""
    if exc.error in _DEAD_GRANTS:
        return _DEAD_GRANTS[exc.error]
    said = f" (Salesforce said: {exc.description[:200]})" if exc.description else ""
    return (
        "grant_expired_or_revoked",
        "Salesforce no longer accepts this connection's grant: it was revoked, or it expired "
        f"under the org's refresh-token policy{said}. {RECONNECT}",
    )


def refused_for_now(exc: SalesforceError) -> tuple[str, str, timedelta]:
    """A refusal that keeps the connection: reason, sentence, how long to hold back."""
    if isinstance(exc, LoginRestricted):
        return (
            "login_restricted",
            str(SalesforceLoginRestricted.detail),
            HOLD_BACK["login_restricted"],
        )
    if isinstance(exc, ClientRejected):
        return "client_rejected", str(SalesforceClientRejected.detail), HOLD_BACK["client_rejected"]
    return (
        "token_rate_limited",
        "Salesforce limits how often this connection may log in; the service waits before "
        "trying again.",
        HOLD_BACK["token_rate_limited"],
    )


def held_back(reason: str | None, detail: str | None, wait: timedelta) -> SalesforceError:
    """The error to raise while refreshes are held back, without asking Salesforce."""
    seconds = max(1.0, wait.total_seconds())
    if reason == "login_restricted":
        return LoginRestricted("invalid_grant", detail or "", status=400)
    if reason == "client_rejected":
        return ClientRejected("invalid_client", detail or "", status=400)
    error = TokenRateLimited(detail or "rate limit exceeded", error_code="rate_limit_exceeded")
    error.retry_after = seconds
    return error
