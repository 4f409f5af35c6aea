"""The SQL of the webhook set-up, the receiver and the logging list (the worker's own
statements are in app/conversation_logging/job_statements.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pgqueuer import Queries
from pgqueuer.db import AsyncpgDriver
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversation_logging.events import ClosedConversation
from app.conversation_models import LoggedConversation, RespondioEvent, RespondioWebhook
from app.db import Database

ENTRYPOINT = "conversation_logging.conversation"
OUTCOMES = ("logged", "skipped", "pending", "failed")


@dataclass(frozen=True, slots=True)
class Webhook:
    workspace_id: str
    key_encrypted: str
    signing_key_encrypted: str


async def save_webhook(
    db: Database, workspace_id: str, key_hash: str, key_encrypted: str, signing: str, user: str
) -> None:
    async with db.transaction() as session:
        values = {
            "key_hash": key_hash,
            "key_encrypted": key_encrypted,
            "signing_key_encrypted": signing,
            "updated_by": user,
        }
        await session.execute(
            insert(RespondioWebhook)
            .values(workspace_id=workspace_id, **values)
            .on_conflict_do_update(
                index_elements=["workspace_id"], set_={**values, "updated_at": func.now()}
            )
        )


async def webhook_of(db: Database, workspace_id: str) -> Webhook | None:
    async with db.transaction() as session:
        row = await session.get(RespondioWebhook, workspace_id)
        if row is None:
            return None
        return Webhook(row.workspace_id, row.key_encrypted, row.signing_key_encrypted)


async def webhook_by_key(db: Database, key_hash: str) -> Webhook | None:
    async with db.transaction() as session:
        row = await session.scalar(
            select(RespondioWebhook).where(RespondioWebhook.key_hash == key_hash)
        )
        if row is None:
            return None
        return Webhook(row.workspace_id, row.key_encrypted, row.signing_key_encrypted)


async def delete_webhook(db: Database, workspace_id: str) -> bool:
    async with db.transaction() as session:
        result = await session.execute(
            delete(RespondioWebhook).where(RespondioWebhook.workspace_id == workspace_id)
        )
        return bool(getattr(result, "rowcount", 0))


async def store_closed(db: Database, workspace_id: str, event: ClosedConversation) -> bool:
    """Store the event and, the first time its conversation is seen, the conversation and its
    job, all in one transaction. False when this event id was stored before."""
    async with db.transaction() as session:
        stored = await session.scalar(
            insert(RespondioEvent)
            .values(
                workspace_id=workspace_id,
                event_id=event.event_id,
                conversation_key=event.conversation_key,
                contact_id=event.contact_id,
                contact_email=event.email,
                contact_phone=event.phone,
            )
            .on_conflict_do_nothing()
            .returning(RespondioEvent.id)
        )
        if stored is None:
            return False
        conversation_id = await session.scalar(
            insert(LoggedConversation)
            .values(
                workspace_id=workspace_id,
                conversation_key=event.conversation_key,
                event=event.payload,
                status="pending",
                attempts=0,
                next_attempt_at=func.now(),
            )
            .on_conflict_do_nothing()
            .returning(LoggedConversation.id)
        )
        if conversation_id is not None:
            await enqueue(session, conversation_id)
        return True


async def enqueue(session: AsyncSession, conversation_id: int, delay: float = 0.0) -> None:
    """The conversation's job, in the session's transaction (PgQueuer's SQL on the same
    connection); the dedupe key keeps one live job per conversation."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    queries = Queries(AsyncpgDriver(raw.driver_connection))  # type: ignore[arg-type]
    await queries.enqueue(
        [ENTRYPOINT],
        [str(conversation_id).encode()],
        [0],
        [timedelta(seconds=delay)],
        [dedupe_key(conversation_id)],
        on_conflict="skip",
    )


def dedupe_key(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


@dataclass(frozen=True, slots=True)
class Entry:
    event: RespondioEvent
    conversation: LoggedConversation | None


async def recent(db: Database, workspace_id: str, limit: int) -> tuple[list[Entry], dict]:
    """The last `limit` events with their conversation, and the count of conversations per
    outcome."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(RespondioEvent, LoggedConversation)
            .outerjoin(
                LoggedConversation,
                (LoggedConversation.workspace_id == RespondioEvent.workspace_id)
                & (LoggedConversation.conversation_key == RespondioEvent.conversation_key),
            )
            .where(RespondioEvent.workspace_id == workspace_id)
            .order_by(RespondioEvent.id.desc())
            .limit(limit)
        )
        entries = [Entry(event, conversation) for event, conversation in rows.all()]
        counted = await session.execute(
            select(LoggedConversation.status, func.count())
            .where(LoggedConversation.workspace_id == workspace_id)
            .group_by(LoggedConversation.status)
        )
        counts = {outcome: 0 for outcome in OUTCOMES}
        for status, n in counted.all():
            counts[status] = int(n)
    return entries, counts
