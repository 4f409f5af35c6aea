"""Describes shared by every process in PostgreSQL, so an org answers one describe per
connection per `FIELDS_CACHE_TTL_SECONDS` however many replicas and workers there are.

A process whose copy has expired reads the row; only when the row is older than the TTL does
it take the connection's advisory lock (on an AUTOCOMMIT connection, so no transaction spans
the HTTP call), read the row again (another process may have just revalidated it) and
revalidate with If-Modified-Since. Rows of a workspace's earlier connections are deleted when
a new one is written.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from app.db import Database
from app.models import SalesforceDescribe
from app.workspace.repository import advisory_lock


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

    def lock(self, connection_id: uuid.UUID, sobject: str) -> AbstractAsyncContextManager[None]:
        """One revalidation of this describe at a time, across processes."""
        return advisory_lock(self._db, f"salesforce-describe:{connection_id}:{sobject}")
