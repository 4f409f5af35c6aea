"""The durable record of field edits made through respond.io (table `contact_field_edits`).

Every function opens its own short transaction: none is ever held across a Salesforce call.
Rows are always selected by workspace *and* organization, so a workspace only ever sees the
edits it made in the org it is connected to.

Life of a row: `pending` (inserted before the PATCH) → `applied` (the PATCH answered 204) or
`failed` (Salesforce rejected it, or a later check found the value was never written). Only
`applied` rows are history. A revert sets `revert_started_*` before its PATCH and
`reverted_*` after it; a crash in between is settled the same way as a pending edit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import or_, select, update

from app.db import Database
from app.models import ContactFieldEdit, EditStatus
from app.salesforce.values import same_value
from app.workspace.contacts import ContactRef, of_contact, revertible_fields

PENDING = EditStatus.PENDING.value
APPLIED = EditStatus.APPLIED.value
FAILED = EditStatus.FAILED.value


class FieldChange(NamedTuple):
    field: str
    old_value: Any
    new_value: Any


class Settlement(NamedTuple):
    """How many unsettled rows a settlement decided, by outcome."""

    applied: int = 0
    failed: int = 0
    reverted: int = 0
    revert_abandoned: int = 0


async def insert_pending(
    db: Database, ref: ContactRef, changes: Iterable[FieldChange], user_id: str
) -> tuple[uuid.UUID, list[int]]:
    change_id = uuid.uuid4()
    rows = [
        ContactFieldEdit(
            workspace_id=ref.workspace_id,
            organization_id=ref.organization_id,
            contact_id=ref.contact_id,
            object=ref.sobject,
            change_id=change_id,
            field=change.field,
            old_value=change.old_value,
            new_value=change.new_value,
            status=PENDING,
            edited_by=user_id,
        )
        for change in changes
    ]
    async with db.transaction() as session:
        session.add_all(rows)
        await session.flush()
        ids = [row.id for row in rows]
    return change_id, ids


async def mark_applied(db: Database, ids: list[int]) -> None:
    """Salesforce answered 204: authoritative, even over a concurrent settlement's guess."""
    async with db.transaction() as session:
        await session.execute(
            update(ContactFieldEdit)
            .where(ContactFieldEdit.id.in_(ids))
            .values(status=APPLIED, failure=None, settled_at=datetime.now(UTC))
        )


async def mark_failed(db: Database, ids: list[int], failure: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(ContactFieldEdit)
            .where(ContactFieldEdit.id.in_(ids), ContactFieldEdit.status == PENDING)
            .values(status=FAILED, failure=failure[:64], settled_at=datetime.now(UTC))
        )


async def unsettled(db: Database, ref: ContactRef) -> list[ContactFieldEdit]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(ContactFieldEdit)
            .where(
                of_contact(ref),
                or_(
                    ContactFieldEdit.status == PENDING,
                    ContactFieldEdit.revert_started_at.is_not(None),
                ),
            )
            .order_by(ContactFieldEdit.id)
        )
        return list(rows)


async def settle(
    db: Database,
    rows: list[ContactFieldEdit],
    current: Mapping[str, Any],
    types: Mapping[str, str],
) -> Settlement:
    """Decide rows left unsettled (a crash, a lost answer) from the values Salesforce holds.

    A pending change (one PATCH, applied as a whole or not at all) happened when a field of
    it holds the value it wrote; otherwise it never did. A started revert happened when the
    field holds the edit's old value again. Fields missing from `current` are left alone.
    """
    by_change: dict[uuid.UUID, list[ContactFieldEdit]] = {}
    for row in rows:
        if row.status == PENDING and row.field in current:
            by_change.setdefault(row.change_id, []).append(row)
    applied: list[int] = []
    failed: list[int] = []
    for change_rows in by_change.values():
        happened = any(
            same_value(types.get(r.field, "string"), current[r.field], r.new_value)
            for r in change_rows
        )
        (applied if happened else failed).extend(r.id for r in change_rows)
    reverted: list[ContactFieldEdit] = []
    abandoned: list[int] = []
    for row in rows:
        if row.revert_started_at is None or row.field not in current:
            continue
        if same_value(types.get(row.field, "string"), current[row.field], row.old_value):
            reverted.append(row)
        else:
            abandoned.append(row.id)
    if not (applied or failed or reverted or abandoned):
        return Settlement()
    now = datetime.now(UTC)
    async with db.transaction() as session:
        if applied:
            await session.execute(
                update(ContactFieldEdit)
                .where(ContactFieldEdit.id.in_(applied), ContactFieldEdit.status == PENDING)
                .values(status=APPLIED, settled_at=now)
            )
        if failed:
            await session.execute(
                update(ContactFieldEdit)
                .where(ContactFieldEdit.id.in_(failed), ContactFieldEdit.status == PENDING)
                .values(status=FAILED, failure="not_in_salesforce", settled_at=now)
            )
        for row in reverted:
            await session.execute(
                update(ContactFieldEdit)
                .where(
                    ContactFieldEdit.id == row.id,
                    ContactFieldEdit.revert_started_at.is_not(None),
                )
                .values(
                    reverted_at=row.revert_started_at,
                    reverted_by=row.revert_started_by,
                    revert_started_at=None,
                    revert_started_by=None,
                )
            )
        if abandoned:
            await session.execute(
                update(ContactFieldEdit)
                .where(ContactFieldEdit.id.in_(abandoned))
                .values(revert_started_at=None, revert_started_by=None)
            )
    return Settlement(len(applied), len(failed), len(reverted), len(abandoned))


async def latest_unreverted(db: Database, ref: ContactRef, field: str) -> ContactFieldEdit | None:
    """The most recent applied edit of the field that no revert has undone."""
    async with db.transaction() as session:
        row: ContactFieldEdit | None = await session.scalar(
            select(ContactFieldEdit)
            .where(
                of_contact(ref),
                ContactFieldEdit.field == field,
                ContactFieldEdit.status == APPLIED,
                ContactFieldEdit.reverted_at.is_(None),
            )
            .order_by(ContactFieldEdit.id.desc())
            .limit(1)
        )
        return row


async def start_revert(db: Database, edit_id: int, user_id: str) -> bool:
    """Claim the edit for a revert; False when it is reverted or being reverted already."""
    return await db.changes(
        update(ContactFieldEdit)
        .where(
            ContactFieldEdit.id == edit_id,
            ContactFieldEdit.reverted_at.is_(None),
            ContactFieldEdit.revert_started_at.is_(None),
        )
        .values(revert_started_at=datetime.now(UTC), revert_started_by=user_id)
    )


async def finish_revert(db: Database, edit_id: int, user_id: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(ContactFieldEdit)
            .where(ContactFieldEdit.id == edit_id)
            .values(
                reverted_at=datetime.now(UTC),
                reverted_by=user_id,
                revert_started_at=None,
                revert_started_by=None,
            )
        )


async def abandon_revert(db: Database, edit_id: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(ContactFieldEdit)
            .where(ContactFieldEdit.id == edit_id, ContactFieldEdit.reverted_at.is_(None))
            .values(revert_started_at=None, revert_started_by=None)
        )


async def applied_edits(db: Database, ref: ContactRef, limit: int) -> list[ContactFieldEdit]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(ContactFieldEdit)
            .where(of_contact(ref), ContactFieldEdit.status == APPLIED)
            .order_by(ContactFieldEdit.edited_at.desc(), ContactFieldEdit.id.desc())
            .limit(limit)
        )
        return list(rows)


__all__ = [
    "ContactRef",
    "FieldChange",
    "Settlement",
    "abandon_revert",
    "applied_edits",
    "finish_revert",
    "insert_pending",
    "latest_unreverted",
    "mark_applied",
    "mark_failed",
    "revertible_fields",
    "settle",
    "start_revert",
    "unsettled",
]
