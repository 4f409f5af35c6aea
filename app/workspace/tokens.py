"""Stored Salesforce credentials and the single-flight token refresh.

Refresh-token rotation makes a refresh race fatal: reusing a rotated-out refresh token revokes
the whole grant. So refreshes collapse into one, in two layers:

1. in-process: one asyncio task per workspace; every concurrent caller awaits it;
2. across processes: a PostgreSQL session-level advisory lock per stored grant (which the
   workspaces one Salesforce user connected share, app.models_grants), taken on an AUTOCOMMIT
   connection (no transaction stays open across the HTTP call). Inside the lock the rows are
   re-read; if the grant's access token is no longer the one that failed, another workspace
   or process has refreshed already and that token is reused.

A client-credentials grant has no refresh token: a new access token is asked with the consumer
key and secret, under the same single flight and lock. The new access token, the (rotated)
refresh token and `instance_url` are stored together, for every workspace of the grant.
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
keep-alive refresh). A refresh in this process also hands the new token to the other
workspaces of the grant held here. A refresh by another process makes the kept token stale:
Salesforce answers 401 and `refresh` finds the newer token in the grant and reuses it (one
extra call, no new refresh), as it always did for an expired token.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import Any

import httpx

from app.config import Settings
from app.crypto import TokenCipher
from app.db import Database
from app.kit.clocks import Clock, Now, monotonic, utc_now
from app.kit.singleflight import SingleFlight
from app.models import Connection, ConnectionStatus, GrantMethod, SalesforceGrant
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
from app.workspace.token_answers import (
    NO_REFRESH_TOKEN,
    dead_grant,
    held_back,
    last_refreshed,
    refused_for_now,
    rejected_credentials,
)

logger = logging.getLogger("app.salesforce.tokens")

CREDENTIALS_TTL_SECONDS = 300.0
CREDENTIALS_MAX_WORKSPACES = 50_000

# Whether the grant must be refreshed now (the connection, its grant, current credentials).
_Needed = Callable[[Connection, SalesforceGrant, Credentials], bool]
_Found = tuple[Connection, SalesforceGrant] | None


@dataclass(frozen=True, slots=True)
class _Answer:
    """A new access token as Salesforce gave it: refresh or client credentials."""

    access_token: str = field(repr=False)
    instance_url: str
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(eq=False, repr=False)
class TokenStore:
    """The `TokenSource` of the Salesforce client: credentials from the stored grant."""

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
    # grant -> workspaces held with it (may name some held no more: checked on use).
    _grant_workspaces: dict[uuid.UUID, set[str]] = field(init=False, default_factory=dict)
    # Bumped by `forget`: a read that began before it must not be kept.
    _generation: dict[str, int] = field(init=False, default_factory=dict)

    async def credentials(self, workspace_id: str) -> Credentials:
        """Read from the database (no memory): for callers without a snapshot."""
        return self._usable(await repository.connection_with_grant(self.db, workspace_id))

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
        if credentials.grant_id is not None:
            self._grant_workspaces.setdefault(credentials.grant_id, set()).add(
                credentials.workspace_id
            )

    def _follow(self, renewed: Credentials) -> None:
        """Hand a renewed token to the other workspaces of its grant held in memory."""
        if renewed.grant_id is None:
            return
        workspaces = self._grant_workspaces.get(renewed.grant_id, set())
        for workspace_id in list(workspaces):
            held = self._held.get(workspace_id)
            if held is None or held[0].grant_id != renewed.grant_id:
                workspaces.discard(workspace_id)
            elif workspace_id != renewed.workspace_id:
                self._held[workspace_id] = (
                    dataclasses.replace(
                        held[0],
                        access_token=renewed.access_token,
                        instance_url=renewed.instance_url,
                    ),
                    held[1],
                )
        if not workspaces:
            self._grant_workspaces.pop(renewed.grant_id, None)

    def _usable(self, found: _Found) -> Credentials:
        if found is None:
            raise NotConnected()
        row, grant = found
        if row.status == ConnectionStatus.REAUTHORIZATION_REQUIRED:
            raise ReauthorizationRequired(row.status_reason, row.status_detail)
        return Credentials(
            connection_id=row.id,
            workspace_id=row.workspace_id,
            organization_id=row.organization_id,
            instance_url=row.instance_url,
            access_token=self.cipher.decrypt(grant.access_token_encrypted),
            grant_id=grant.id,
        )

    async def refresh(self, workspace_id: str, stale_access_token: str) -> Credentials:
        """New credentials after `stale_access_token` was refused; one refresh at a time."""
        self._held.pop(workspace_id, None)
        generation = self._generation.get(workspace_id, 0)
        credentials = await self._refreshes.run(
            workspace_id,
            lambda: self._refresh_across_processes(
                workspace_id,
                lambda row, grant, current: current.access_token == stale_access_token,
            ),
        )
        if self._generation.get(workspace_id, 0) == generation:
            self._keep(credentials)
        self._follow(credentials)
        return credentials

    async def keep_alive(self, workspace_id: str, refreshed_before: datetime) -> bool:
        """Refresh the grant when its last refresh (or the connect) is older than
        `refreshed_before`, so Salesforce's idle refresh-token expiry never ends a quiet
        connection. A client-credentials grant has no refresh token to keep alive. True when
        a refresh was made. Same single flight and lock as `refresh`."""
        refreshed: list[bool] = []

        def due(row: Connection, grant: SalesforceGrant, current: Credentials) -> bool:
            refreshed.append(
                grant.method == GrantMethod.WEB_SERVER and last_refreshed(grant) < refreshed_before
            )
            return refreshed[-1]

        await self._refreshes.run(
            f"keepalive:{workspace_id}", lambda: self._refresh_across_processes(workspace_id, due)
        )
        if refreshed and refreshed[-1]:
            self.forget(workspace_id)
        return bool(refreshed and refreshed[-1])

    async def _refresh_across_processes(self, workspace_id: str, needed: _Needed) -> Credentials:
        current = self._usable(await repository.connection_with_grant(self.db, workspace_id))
        async with repository.refresh_lock(self.db, str(current.grant_id)):
            return await self._refresh_locked(workspace_id, needed)

    async def _refresh_locked(self, workspace_id: str, needed: _Needed) -> Credentials:
        found = await repository.connection_with_grant(self.db, workspace_id)
        current = self._usable(found)
        assert found is not None
        row, grant = found
        if not needed(row, grant, current):
            logger.info("salesforce.token.reused", extra={"workspace_id": workspace_id})
            return current
        now = self.now()
        if grant.refresh_not_before is not None and grant.refresh_not_before > now:
            raise held_back(row.status_reason, row.status_detail, grant.refresh_not_before - now)
        client_credentials = grant.method == GrantMethod.CLIENT_CREDENTIALS
        if not client_credentials and not grant.refresh_token_encrypted:
            return await self._dead(row, grant, "no_refresh_token", NO_REFRESH_TOKEN)
        if self.budget is not None:
            self.budget.count(workspace_id, "token")
        try:
            answer = await (
                self._client_credentials(grant) if client_credentials else self._refresh(row, grant)
            )
        except ClientRejected as exc:
            if not client_credentials:  # our app refused: a setting, not a dead grant
                raise await self._hold_back(row, grant, exc, now) from exc
            return await self._dead(row, grant, *rejected_credentials(exc), cause=exc)
        except InvalidGrant as exc:
            answer_for = rejected_credentials if client_credentials else dead_grant
            return await self._dead(row, grant, *answer_for(exc), cause=exc)
        except (TokenRateLimited, LoginRestricted) as exc:
            raise await self._hold_back(row, grant, exc, now) from exc
        except HostNotAllowed as exc:
            # Nothing of this answer is stored: the connection keeps its instance URL and
            # the next call asks again.
            logger.warning(
                "salesforce.token.refused",
                extra={"workspace_id": workspace_id, "reason": "instance_url"},
            )
            raise SalesforceUnavailable("the token answer's instance URL is refused") from exc
        values: dict[str, Any] = {
            "access_token_encrypted": self.cipher.encrypt(answer.access_token),
            "tokens_refreshed_at": now,
            "refresh_not_before": None,
        }
        if answer.refresh_token:
            values["refresh_token_encrypted"] = self.cipher.encrypt(answer.refresh_token)
        stored = await repository.update_grant_tokens(
            self.db,
            grant.id,
            values,
            answer.instance_url,
            replaces=grant.access_token_encrypted,
            same_token=lambda ciphertext: self.cipher.decrypt(ciphertext) == current.access_token,
        )
        if not stored:
            return await self._renewed_meanwhile(workspace_id)
        logger.info(
            "salesforce.token.refreshed",
            extra={
                "workspace_id": workspace_id,
                "organization_id": row.organization_id,
                "method": grant.method,
                "rotated": bool(answer.refresh_token),
            },
        )
        return Credentials(
            connection_id=row.id,
            workspace_id=workspace_id,
            organization_id=row.organization_id,
            instance_url=answer.instance_url,
            access_token=answer.access_token,
            grant_id=grant.id,
        )

    async def _refresh(self, row: Connection, grant: SalesforceGrant) -> _Answer:
        assert grant.refresh_token_encrypted is not None
        answer = await oauth.refresh_access_token(
            self.http,
            self.settings,
            grant.login_url,
            self.cipher.decrypt(grant.refresh_token_encrypted),
        )
        return _Answer(
            access_token=str(answer["access_token"]),
            instance_url=instance_origin(
                str(answer.get("instance_url") or row.instance_url), self.settings
            ),
            refresh_token=str(answer["refresh_token"]) if answer.get("refresh_token") else None,
        )

    async def _client_credentials(self, grant: SalesforceGrant) -> _Answer:
        if not grant.client_id or not grant.client_secret_encrypted:
            raise InvalidGrant("invalid_client", "no client credentials are stored")
        answer = await oauth.client_credentials_token(
            self.http,
            self.settings,
            grant.login_url,
            grant.client_id,
            self.cipher.decrypt(grant.client_secret_encrypted),
        )
        return _Answer(access_token=answer.access_token, instance_url=answer.instance_url)

    async def _hold_back(
        self, row: Connection, grant: SalesforceGrant, exc: SalesforceError, now: datetime
    ) -> SalesforceError:
        reason, detail, wait = refused_for_now(exc)
        await repository.hold_back_refresh(self.db, grant.id, reason, detail, now + wait)
        logger.warning(
            "salesforce.token.held_back",
            extra={"workspace_id": row.workspace_id, "reason": reason, "seconds": wait.seconds},
        )
        return held_back(reason, detail, wait)

    async def _dead(
        self,
        row: Connection,
        grant: SalesforceGrant,
        reason: str,
        detail: str,
        *,
        cause: SalesforceError | None = None,
    ) -> Credentials:
        """Mark every connection of the grant `reauthorization_required` and raise; unless a
        connect renewed the grant meanwhile (its old tokens were refused because that connect
        revoked them): then its new credentials."""
        workspaces = await repository.mark_reauthorization_required(
            self.db, grant.id, reason, detail, seen=grant.access_token_encrypted
        )
        if workspaces is None:
            return await self._renewed_meanwhile(row.workspace_id)
        for workspace_id in {row.workspace_id, *workspaces}:
            self.forget(workspace_id)
        logger.warning(
            "salesforce.connection.reauthorization_required",
            extra={
                "workspace_id": row.workspace_id,
                "reason": reason,
                "shared_with": len(workspaces) - 1,
            },
        )
        raise ReauthorizationRequired(reason, detail) from cause

    async def _renewed_meanwhile(self, workspace_id: str) -> Credentials:
        """The tokens a connect stored while a refresh was under way: they win."""
        logger.info("salesforce.token.superseded", extra={"workspace_id": workspace_id})
        return self._usable(await repository.connection_with_grant(self.db, workspace_id))
