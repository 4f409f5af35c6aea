"""The SQL of write-back: idempotency keys of creates and the activities logged as Tasks.

Every function opens its own short transaction: none is held across a Salesforce call. The
unique keys ((workspace, key) and (workspace, external_id)) are what make a retry, a second
replica or a restart find the first request's outcome instead of writing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from app import errors as app_errors
from app.db import Database
from app.models import Connection, LoggedActivity, WritebackIdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
PENDING, DONE, CREATED, SETTLE = "pending", "done", "created", "settle"
# A lease given up at once: the outcome of the attempt is unknown, settle before retrying.
RELEASED = datetime(2000, 1, 1).astimezone()


# -- idempotency keys of creates -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """`new`: this request owns the key; `done`: the first answer; `pending`: in flight;
    `settle`: this request took over a key whose attempt lost its answer or died, and must
    look in Salesforce for a record created since `intent_at` before creating one."""

    state: str
    response: dict[str, Any] | None = None
    intent_at: datetime | None = None


async def claim_key(
    db: Database, workspace_id: str, key: str, request_hash: str, sobject: str, lease: timedelta
) -> KeyClaim:
    async with db.transaction() as session:
        inserted = await session.scalar(
            insert(WritebackIdempotencyKey)
            .values(
                workspace_id=workspace_id,
                key=key,
                request_hash=request_hash,
                sobject=sobject,
                status=PENDING,
            )
            .on_conflict_do_nothing()
            .returning(WritebackIdempotencyKey.key)
        )
        if inserted is not None:
            return KeyClaim("new")
        row = await session.scalar(
            select(WritebackIdempotencyKey)
            .where(
                WritebackIdempotencyKey.workspace_id == workspace_id,
                WritebackIdempotencyKey.key == key,
            )
            .with_for_update()
        )
        assert row is not None
        now: datetime = (await session.execute(select(func.now()))).scalar_one()
        if row.created_at < now - KEY_LIFETIME:  # expired: the key starts afresh
            row.request_hash, row.sobject, row.status = request_hash, sobject, PENDING
            row.response, row.created_at, row.attempt_started_at = None, now, now
            return KeyClaim("new")
        if row.request_hash != request_hash:
            raise app_errors.IdempotencyKeyReused()
        if row.status == DONE:
            return KeyClaim(DONE, row.response)
        if row.attempt_started_at < now - lease:  # lost its answer, or its request died
            row.attempt_started_at = now
            return KeyClaim(SETTLE, intent_at=row.created_at)
        return KeyClaim(PENDING)


def _the_key(workspace_id: str, key: str, *status: str) -> list[ColumnElement[bool]]:
    """The WHERE clause of one key (in one of `status`, when given)."""
    clause = [
        WritebackIdempotencyKey.workspace_id == workspace_id,
        WritebackIdempotencyKey.key == key,
    ]
    return clause + [WritebackIdempotencyKey.status.in_(status)] if status else clause


async def finish_key(db: Database, workspace_id: str, key: str, response: dict[str, Any]) -> None:
    await db.changes(
        update(WritebackIdempotencyKey)
        .where(*_the_key(workspace_id, key))
        .values(status=DONE, response=response)
    )


async def give_up_key(db: Database, workspace_id: str, key: str) -> None:
    """The create's outcome is unknown (lost answer): the next attempt settles it first."""
    await db.changes(
        update(WritebackIdempotencyKey)
        .where(*_the_key(workspace_id, key, PENDING))
        .values(attempt_started_at=RELEASED)
    )


async def connection_user(db: Database, connection_id: uuid.UUID) -> str | None:
    """The Salesforce user the connection acts as (CreatedById of what it creates)."""
    async with db.transaction() as session:
        user: str | None = await session.scalar(
            select(Connection.user_id).where(Connection.id == connection_id)
        )
        return user


async def release_key(db: Database, workspace_id: str, key: str) -> None:
    """Salesforce surely created nothing: the key may be used again."""
    await db.changes(delete(WritebackIdempotencyKey).where(*_the_key(workspace_id, key, PENDING)))


async def delete_expired_keys(db: Database) -> int:
    """Drop the keys older than KEY_LIFETIME (a request that brings one again starts afresh
    anyway, see claim_key): how many."""
    async with db.transaction() as session:
        result = await session.execute(
            delete(WritebackIdempotencyKey).where(
                WritebackIdempotencyKey.created_at < func.now() - KEY_LIFETIME
            )
        )
        return int(getattr(result, "rowcount", 0))


# -- activities ----------------------------------------------------------------------------


async def claim_activity(db: Database, values: dict[str, Any]) -> tuple[LoggedActivity, bool]:
    """The row of (workspace, external_id), and whether this call inserted it (and so holds
    its lease)."""
    async with db.transaction() as session:
        inserted = await session.scalar(
            insert(LoggedActivity)
            .values(status=PENDING, **values)
            .on_conflict_do_nothing()
            .returning(LoggedActivity.id)
        )
        row = await session.scalar(
            select(LoggedActivity).where(
                LoggedActivity.workspace_id == values["workspace_id"],
                LoggedActivity.external_id == values["external_id"],
            )
        )
        assert row is not None
        return row, inserted is not None


async def activity(db: Database, row_id: int) -> LoggedActivity | None:
    async with db.transaction() as session:
        row: LoggedActivity | None = await session.get(LoggedActivity, row_id)
        return row


async def take_over(db: Database, row_id: int, lease: timedelta) -> bool:
    """Take the lease of a pending row whose attempt ended or expired (a crash)."""
    return await db.changes(
        update(LoggedActivity)
        .where(
            LoggedActivity.id == row_id,
            LoggedActivity.status == PENDING,
            LoggedActivity.attempt_started_at < func.now() - lease,
        )
        .values(attempt_started_at=func.now())
    )


async def mark_created(db: Database, row_id: int, task_id: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(LoggedActivity)
            .where(LoggedActivity.id == row_id)
            .values(status=CREATED, task_id=task_id)
        )


async def give_up_lease(db: Database, row_id: int) -> None:
    """The create's outcome is unknown (lost answer): the next attempt settles it first."""
    async with db.transaction() as session:
        await session.execute(
            update(LoggedActivity)
            .where(LoggedActivity.id == row_id, LoggedActivity.status == PENDING)
            .values(attempt_started_at=RELEASED)
        )


async def forget_activity(db: Database, row_id: int) -> None:
    """Salesforce surely created no Task: the external id may be logged again."""
    async with db.transaction() as session:
        await session.execute(
            delete(LoggedActivity).where(
                LoggedActivity.id == row_id, LoggedActivity.status == PENDING
            )
        )


async def activities_of(
    db: Database, workspace_id: str, organization_id: str, record_id: str, limit: int
) -> list[LoggedActivity]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(LoggedActivity)
            .where(
                LoggedActivity.workspace_id == workspace_id,
                LoggedActivity.organization_id == organization_id,
                LoggedActivity.record_id == record_id,
                LoggedActivity.status == CREATED,
            )
            .order_by(LoggedActivity.occurred_at.desc(), LoggedActivity.id.desc())
            .limit(limit)
        )
        return list(rows)
