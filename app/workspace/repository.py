"""The workspace core's SQL: the connection row (read for snapshots and credentials, written
by a token refresh) and the settings row, each in its own short transaction.

The advisory lock of a token refresh is taken here too, on an AUTOCOMMIT connection, so no
transaction stays open across the HTTP call made while it is held.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, text, update

from app.db import Database
from app.models import (
    Connection,
    ConnectionStatus,
    GrantMethod,
    RespondioCredential,
    SalesforceGrant,
    WorkspaceSettings,
)


async def connection_and_settings(
    db: Database, workspace_id: str
) -> tuple[Connection | None, WorkspaceSettings | None]:
    async with db.transaction() as session:
        connection = await session.scalar(
            select(Connection).where(Connection.workspace_id == workspace_id)
        )
        settings_row = await session.get(WorkspaceSettings, workspace_id)
    return connection, settings_row


async def connection_of(db: Database, workspace_id: str) -> Connection | None:
    async with db.transaction() as session:
        row: Connection | None = await session.scalar(
            select(Connection).where(Connection.workspace_id == workspace_id)
        )
    return row


async def respondio_token_set(db: Database, workspace_id: str) -> bool:
    """Whether the workspace has stored a respond.io API token (auto-create needs one)."""
    async with db.transaction() as session:
        found = await session.scalar(
            select(RespondioCredential.workspace_id).where(
                RespondioCredential.workspace_id == workspace_id
            )
        )
    return found is not None


def with_grant(workspace_id: str) -> Select[Connection, SalesforceGrant]:
    """The workspace's connection and the grant whose tokens it uses, as one query."""
    return (
        select(Connection, SalesforceGrant)
        .join(SalesforceGrant, SalesforceGrant.id == Connection.grant_id)
        .where(Connection.workspace_id == workspace_id)
    )


async def connection_with_grant(
    db: Database, workspace_id: str
) -> tuple[Connection, SalesforceGrant] | None:
    """The workspace's connection and the grant whose tokens it uses."""
    async with db.transaction() as session:
        found = (await session.execute(with_grant(workspace_id))).first()
    return (found[0], found[1]) if found is not None else None


async def update_grant_tokens(
    db: Database,
    grant_id: uuid.UUID,
    values: dict[str, Any],
    instance_url: str,
    *,
    replaces: str,
    same_token: Callable[[str], bool],
) -> bool:
    """Store a refresh's answer: the grant's tokens, and for every connection using it the
    instance URL, with the reason it needed attention cleared.

    Only over the access token the refresh started from (`replaces`, its ciphertext, or a
    re-encryption of the same token: `same_token`): a connect that renewed the grant
    meanwhile wins, and False says so (the caller uses the stored tokens instead)."""
    async with db.transaction() as session:
        stored = await session.scalar(
            select(SalesforceGrant.access_token_encrypted)
            .where(SalesforceGrant.id == grant_id)
            .with_for_update()
        )
        if stored is None or (stored != replaces and not same_token(stored)):
            return False
        await session.execute(
            update(SalesforceGrant).where(SalesforceGrant.id == grant_id).values(**values)
        )
        await session.execute(
            update(Connection)
            .where(Connection.grant_id == grant_id)
            .values(instance_url=instance_url, status_reason=None, status_detail=None)
        )
    return True


async def mark_reauthorization_required(
    db: Database, grant_id: uuid.UUID, reason: str, detail: str, *, seen: str
) -> list[str] | None:
    """Every connection using the dead grant needs reauthorization; their workspaces. None,
    and nothing marked, when the grant no longer holds the access token `seen` (ciphertext):
    a connect renewed it while the refused request was under way."""
    async with db.transaction() as session:
        stored = await session.scalar(
            select(SalesforceGrant.access_token_encrypted)
            .where(SalesforceGrant.id == grant_id)
            .with_for_update()
        )
        if stored != seen:
            return None
        rows = await session.execute(
            update(Connection)
            .where(Connection.grant_id == grant_id)
            .values(
                status=ConnectionStatus.REAUTHORIZATION_REQUIRED.value,
                status_reason=reason,
                status_detail=detail,
            )
            .returning(Connection.workspace_id)
        )
        return [str(w) for w in rows.scalars().all()]


async def hold_back_refresh(
    db: Database, grant_id: uuid.UUID, reason: str, detail: str, until: datetime
) -> None:
    """No token request for the grant before `until`; its connections stay connected and
    say why."""
    async with db.transaction() as session:
        await session.execute(
            update(SalesforceGrant)
            .where(SalesforceGrant.id == grant_id)
            .values(refresh_not_before=until)
        )
        await session.execute(
            update(Connection)
            .where(Connection.grant_id == grant_id)
            .values(status_reason=reason, status_detail=detail)
        )


def advisory_lock_key(name: str) -> int:
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def refresh_lock(db: Database, grant_id: str) -> AbstractAsyncContextManager[None]:
    """The grant's token-refresh lock across processes (a session advisory lock)."""
    return advisory_lock(db, f"salesforce-refresh:{grant_id}")


@asynccontextmanager
async def advisory_lock(db: Database, name: str) -> AsyncIterator[None]:
    """A session advisory lock named `name`, held on a connection of its own (token refresh
    here, describe revalidation in app.workspace.describe_store)."""
    key = advisory_lock_key(name)
    async with db.engine.connect() as lock_conn:
        await lock_conn.execution_options(isolation_level="AUTOCOMMIT")
        await lock_conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            await lock_conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


async def claim_keepalive(
    db: Database, *, refreshed_before: datetime, claimed_before: datetime, now: datetime, limit: int
) -> list[tuple[str, str]]:
    """Claim connected workspaces whose grant was last refreshed (or obtained) before
    `refreshed_before` and that no worker claimed since `claimed_before`: one UPDATE ...
    RETURNING with SKIP LOCKED, so each is claimed by one worker across all replicas.
    Returns (workspace_id, organization_id) pairs."""
    last = func.coalesce(SalesforceGrant.tokens_refreshed_at, SalesforceGrant.issued_at)
    due = (
        select(Connection.id)
        .join(SalesforceGrant, SalesforceGrant.id == Connection.grant_id)
        .where(
            Connection.status == ConnectionStatus.CONNECTED.value,
            SalesforceGrant.method == GrantMethod.WEB_SERVER.value,
            SalesforceGrant.refresh_token_encrypted.is_not(None),
            last < refreshed_before,
            or_(
                Connection.keepalive_claimed_at.is_(None),
                Connection.keepalive_claimed_at < claimed_before,
            ),
            or_(
                SalesforceGrant.refresh_not_before.is_(None),
                SalesforceGrant.refresh_not_before <= now,
            ),
        )
        .order_by(last)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Connection)
    )
    async with db.transaction() as session:
        rows = await session.execute(
            update(Connection)
            .where(Connection.id.in_(due.scalar_subquery()))
            .values(keepalive_claimed_at=now)
            .returning(Connection.workspace_id, Connection.organization_id)
            .execution_options(synchronize_session=False)
        )
        return [(str(w), str(o)) for w, o in rows.all()]
