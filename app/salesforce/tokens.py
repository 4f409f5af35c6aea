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

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select, text, update

from app.config import Settings
from app.crypto import TokenCipher
from app.db import Database
from app.models import Connection
from app.salesforce.errors import (
    InvalidGrant,
    NotConnected,
    OAuthError,
    ReauthorizationRequired,
    SalesforceUnavailable,
)
from app.salesforce.hosts import ensure_allowed

logger = logging.getLogger("app.salesforce.tokens")

CONNECTED = "connected"
REAUTHORIZATION_REQUIRED = "reauthorization_required"


@dataclass(frozen=True, slots=True)
class Credentials:
    connection_id: uuid.UUID
    workspace_id: str
    organization_id: str
    instance_url: str
    access_token: str

    def __repr__(self) -> str:  # never print the token
        return f"Credentials(workspace_id={self.workspace_id!r}, org={self.organization_id!r})"


def advisory_lock_key(workspace_id: str) -> int:
    digest = hashlib.sha256(f"salesforce-refresh:{workspace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def post_token_request(
    http: httpx.AsyncClient, token_url: str, form: dict[str, str], timeout: float
) -> dict[str, Any]:
    """POST to Salesforce's token endpoint; typed errors for every failure."""
    try:
        response = await http.post(
            token_url, data=form, headers={"Accept": "application/json"}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise SalesforceUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 500:
        raise SalesforceUnavailable(f"token endpoint answered {response.status_code}")
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = (
            str(body.get("error") or f"http_{response.status_code}")
            if isinstance(body, dict)
            else ""
        )
        description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        kind = InvalidGrant if error == "invalid_grant" else OAuthError
        raise kind(error or "invalid_response", description, status=response.status_code)
    return body


class TokenStore:
    def __init__(
        self, db: Database, cipher: TokenCipher, http: httpx.AsyncClient, settings: Settings
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._http = http
        self._settings = settings
        self._inflight: dict[str, asyncio.Task[Credentials]] = {}

    async def credentials(self, workspace_id: str) -> Credentials:
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(Connection).where(Connection.workspace_id == workspace_id)
            )
        return self._usable(row)

    def _usable(self, row: Connection | None) -> Credentials:
        if row is None:
            raise NotConnected()
        if row.status == REAUTHORIZATION_REQUIRED:
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
        task = self._inflight.get(workspace_id)
        if task is None:
            task = asyncio.ensure_future(
                self._refresh_across_processes(workspace_id, stale_access_token)
            )
            self._inflight[workspace_id] = task
            task.add_done_callback(lambda _: self._inflight.pop(workspace_id, None))
        return await asyncio.shield(task)

    async def _refresh_across_processes(self, workspace_id: str, stale: str) -> Credentials:
        key = advisory_lock_key(workspace_id)
        async with self._db.engine.connect() as lock_conn:
            await lock_conn.execution_options(isolation_level="AUTOCOMMIT")
            await lock_conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                return await self._refresh_locked(workspace_id, stale)
            finally:
                await lock_conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})

    async def _refresh_locked(self, workspace_id: str, stale: str) -> Credentials:
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(Connection).where(Connection.workspace_id == workspace_id)
            )
        current = self._usable(row)
        assert row is not None
        if current.access_token != stale:
            logger.info("salesforce.token.reused", extra={"workspace_id": workspace_id})
            return current
        if not row.refresh_token_encrypted:
            await self._mark_reauthorization_required(row.id, workspace_id, "no_refresh_token")
            raise ReauthorizationRequired()
        login_url = ensure_allowed(row.login_url, self._settings)
        try:
            answer = await post_token_request(
                self._http,
                f"{login_url}/services/oauth2/token",
                {
                    "grant_type": "refresh_token",
                    "refresh_token": self._cipher.decrypt(row.refresh_token_encrypted),
                    "client_id": self._settings.salesforce_client_id,
                    "client_secret": self._settings.salesforce_client_secret,
                },
                self._settings.salesforce_timeout_seconds,
            )
        except InvalidGrant as exc:
            await self._mark_reauthorization_required(row.id, workspace_id, exc.description)
            raise ReauthorizationRequired() from exc
        instance_url = ensure_allowed(
            str(answer.get("instance_url") or row.instance_url), self._settings
        )
        values: dict[str, Any] = {
            "access_token_encrypted": self._cipher.encrypt(str(answer["access_token"])),
            "instance_url": instance_url,
            "tokens_refreshed_at": datetime.now(UTC),
        }
        rotated = bool(answer.get("refresh_token"))
        if rotated:
            values["refresh_token_encrypted"] = self._cipher.encrypt(str(answer["refresh_token"]))
        async with self._db.transaction() as session:
            await session.execute(
                update(Connection).where(Connection.id == row.id).values(**values)
            )
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
        async with self._db.transaction() as session:
            await session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(status=REAUTHORIZATION_REQUIRED)
            )
        logger.warning(
            "salesforce.connection.reauthorization_required",
            extra={"workspace_id": workspace_id, "reason": reason},
        )
