"""Contacts waiting for the workspace's respond.io API token.

A job that finds no token parks its row as `waiting` (its data kept, no respond.io call)
instead of failing it. Setting the token resumes the workspace's waiting rows in the same
transaction; the worker's scheduler also sweeps every tick, so a row parked while a token
was being stored is resumed at the latest one tick later. Nothing waiting is lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.autocreate.ingest import enqueue
from app.autocreate.outcomes import WAITING
from app.db import Database
from app.models import AutocreateContact, RespondioCredential

logger = logging.getLogger("app.autocreate.waiting")

TOKEN_MISSING_MESSAGE = (
    "waiting for the workspace's respond.io API token: new Contacts are created once it is "
    "set (PUT /v1/workspaces/{workspace_id}/respondio-credentials)"
)


async def resume_waiting_in(session: AsyncSession, workspace_id: str | None = None) -> list[int]:
    """Back to pending, with a job each, for the waiting rows of workspaces (or of the one
    given) that now have a token. Runs in the caller's transaction."""
    has_token = exists(
        select(RespondioCredential.workspace_id).where(
            RespondioCredential.workspace_id == AutocreateContact.workspace_id
        )
    )
    statement = (
        update(AutocreateContact)
        .where(AutocreateContact.status == WAITING, has_token)
        .values(
            status="pending",
            reason=None,
            last_error=None,
            lease_until=None,
            next_attempt_at=func.now(),
            updated_at=func.now(),
        )
        .returning(AutocreateContact.id)
    )
    if workspace_id is not None:
        statement = statement.where(AutocreateContact.workspace_id == workspace_id)
    ids = list(await session.scalars(statement))
    await enqueue(session, ids, timedelta(0))
    return ids


async def resume_waiting(db: Database) -> int:
    """The scheduler's sweep: resume every waiting row whose workspace has a token now."""
    async with db.transaction() as session:
        ids = await resume_waiting_in(session)
    if ids:
        logger.info("autocreate.waiting.resumed", extra={"count": len(ids)})
    return len(ids)
