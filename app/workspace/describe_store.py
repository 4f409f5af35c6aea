"""Describes shared by every process in PostgreSQL, so an org answers one describe per
connection per `FIELDS_CACHE_TTL_SECONDS` however many replicas and workers there are.

A process whose copy has expired reads the row; only when the row is older than the TTL does
it take the connection's advisory lock (on an AUTOCOMMIT connection, so no transaction spans
the HTTP call), read the row again (another process may have just revalidated it) and
revalidate with If-Modified-Since. Rows of a workspace's earlier connections are deleted when
a new one is written.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert

from app.db import Database
from app.models import SalesforceDescribe


@dataclass(frozen=True, slots=True)
class StoredDescribe:
    body: dict[str, Any]
    last_modified: str | None
    checked_at: datetime


class DescribeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, connection_id: uuid.UUID, sobject: str) -> StoredDescribe | None:
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(SalesforceDescribe).where(
                    SalesforceDescribe.connection_id == connection_id,
                    SalesforceDescribe.sobject == sobject,
                )
            )
        if row is None:
            return None
        return StoredDescribe(row.body, row.last_modified, row.checked_at)

    async def write(
        self,
        workspace_id: str,
        connection_id: uuid.UUID,
        sobject: str,
        stored: StoredDescribe,
    ) -> None:
        async with self._db.transaction() as session:
            statement = insert(SalesforceDescribe).values(
                connection_id=connection_id,
                sobject=sobject,
                workspace_id=workspace_id,
                body=stored.body,
                last_modified=stored.last_modified,
                checked_at=stored.checked_at,
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["connection_id", "sobject"],
                    set_={
                        "body": statement.excluded.body,
                        "last_modified": statement.excluded.last_modified,
                        "checked_at": statement.excluded.checked_at,
                    },
                )
            )
            await session.execute(
                delete(SalesforceDescribe).where(
                    SalesforceDescribe.workspace_id == workspace_id,
                    SalesforceDescribe.connection_id != connection_id,
                )
            )

    @asynccontextmanager
    async def lock(self, connection_id: uuid.UUID, sobject: str) -> AsyncIterator[None]:
        """One revalidation of this describe at a time, across processes."""
        digest = hashlib.sha256(f"salesforce-describe:{connection_id}:{sobject}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        async with self._db.engine.connect() as lock_conn:
            await lock_conn.execution_options(isolation_level="AUTOCOMMIT")
            await lock_conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                await lock_conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
