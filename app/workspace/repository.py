"""The workspace core's SQL: the connection row (read for snapshots and credentials, written
by a token refresh) and the settings row, each in its own short transaction.

The advisory lock of a token refresh is taken here too, on an AUTOCOMMIT connection, so no
transaction stays open across the HTTP call made while it is held.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, text, update

from app.db import Database
from app.models import Connection, ConnectionStatus, RespondioCredential, WorkspaceSettings


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


async def update_tokens(db: Database, connection_id: uuid.UUID, values: dict[str, Any]) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.id == connection_id).values(**values)
        )


async def mark_reauthorization_required(db: Database, connection_id: uuid.UUID) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(status=ConnectionStatus.REAUTHORIZATION_REQUIRED.value)
        )


def advisory_lock_key(workspace_id: str) -> int:
    digest = hashlib.sha256(f"salesforce-refresh:{workspace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def refresh_lock(db: Database, workspace_id: str) -> AsyncIterator[None]:
    """The workspace's token-refresh lock across processes (a session advisory lock)."""
    key = advisory_lock_key(workspace_id)
    async with db.engine.connect() as lock_conn:
        await lock_conn.execution_options(isolation_level="AUTOCOMMIT")
        await lock_conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            await lock_conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
