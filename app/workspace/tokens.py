"""Stored Salesforce credentials and the single-flight token refresh.

Refresh-token rotation makes a refresh race fatal: reusing a rotated-out refresh token revokes
the whole grant. So refreshes for one workspace collapse into one, in two layers:

1. in-process: one asyncio task per workspace; every concurrent caller awaits it;
2. across processes: a PostgreSQL session-level advisory lock per workspace, taken on an
   AUTOCOMMIT connection (no transaction stays open across the HTTP call). Inside the lock the
   row is re-read; if its access token is no longer the one that failed, another process has
   refreshed already and that token is reused.

The new access token, the (rotated) refresh token and `instance_url` are stored together.
`invalid_grant` marks the connection `reauthorization_required`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from app.config import Settings
from app.crypto import TokenCipher
from app.db import Database
from app.kit.singleflight import SingleFlight
from app.models import Connection, ConnectionStatus
from app.salesforce import oauth
from app.salesforce.client import Credentials
from app.salesforce.errors import (
    HostNotAllowed,
    InvalidGrant,
    NotConnected,
    ReauthorizationRequired,
    SalesforceUnavailable,
)
from app.salesforce.hosts import instance_origin
from app.workspace import repository
from app.workspace.budget import ApiBudget
from app.workspace.context import ContextChanged, WorkspaceContext

logger = logging.getLogger("app.salesforce.tokens")


class TokenStore:
    """The `TokenSource` of the Salesforce client: credentials from the connection row."""

    def __init__(
        self,
        db: Database,
        cipher: TokenCipher,
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        budget: ApiBudget | None = None,
    ) -> None:
        self._db = db
        self._budget = budget
        self._cipher = cipher
        self._http = http
        self._settings = settings
        self._refreshes: SingleFlight[str, Credentials] = SingleFlight()

    async def credentials(self, workspace_id: str) -> Credentials:
        return self._usable(await repository.connection_of(self._db, workspace_id))

    async def for_context(self, context: WorkspaceContext) -> Credentials:
        """The credentials of the connection the snapshot describes; ContextChanged when the
        workspace has connected again since the snapshot was taken."""
        credentials = await self.credentials(context.workspace_id)
        if credentials.connection_id != context.connection_id:
            raise ContextChanged()
        return credentials

    def _usable(self, row: Connection | None) -> Credentials:
        if row is None:
            raise NotConnected()
        if row.status == ConnectionStatus.REAUTHORIZATION_REQUIRED:
            raise ReauthorizationRequired()
        return Credentials(
            connection_id=row.id,
            workspace_id=row.workspace_id,
            organization_id=row.organization_id,
            instance_url=row.instance_url,
            access_token=self._cipher.decrypt(row.access_token_encrypted),
        )

    async def refresh(self, workspace_id: str, stale_access_token: str) -> Credentials:
        """New credentials after `stale_access_token` was refused; one refresh at a time."""
        return await self._refreshes.run(
            workspace_id, lambda: self._refresh_across_processes(workspace_id, stale_access_token)
        )

    async def _refresh_across_processes(self, workspace_id: str, stale: str) -> Credentials:
        async with repository.refresh_lock(self._db, workspace_id):
            return await self._refresh_locked(workspace_id, stale)

    async def _refresh_locked(self, workspace_id: str, stale: str) -> Credentials:
        row = await repository.connection_of(self._db, workspace_id)
        current = self._usable(row)
        assert row is not None
        if current.access_token != stale:
            logger.info("salesforce.token.reused", extra={"workspace_id": workspace_id})
            return current
        if not row.refresh_token_encrypted:
            await self._mark_reauthorization_required(row.id, workspace_id, "no_refresh_token")
            raise ReauthorizationRequired()
        if self._budget is not None:
            self._budget.count(workspace_id, "token")
        try:
            answer = await oauth.refresh_access_token(
                self._http,
                self._settings,
                row.login_url,
                self._cipher.decrypt(row.refresh_token_encrypted),
            )
        except InvalidGrant as exc:
            await self._mark_reauthorization_required(row.id, workspace_id, exc.description)
            raise ReauthorizationRequired() from exc
        try:
            instance_url = instance_origin(
                str(answer.get("instance_url") or row.instance_url), self._settings
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
            "access_token_encrypted": self._cipher.encrypt(str(answer["access_token"])),
            "instance_url": instance_url,
            "tokens_refreshed_at": datetime.now(UTC),
        }
        rotated = bool(answer.get("refresh_token"))
        if rotated:
            values["refresh_token_encrypted"] = self._cipher.encrypt(str(answer["refresh_token"]))
        await repository.update_tokens(self._db, row.id, values)
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
        self, connection_id: uuid.UUID, workspace_id: str, reason: str
    ) -> None:
        await repository.mark_reauthorization_required(self._db, connection_id)
        logger.warning(
            "salesforce.connection.reauthorization_required",
            extra={"workspace_id": workspace_id, "reason": reason},
        )
