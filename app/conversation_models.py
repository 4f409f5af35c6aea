"""The tables of automatic conversation logging (app/conversation_logging): the respond.io
webhook of a workspace, the events it delivered, and one row per conversation.

Kept apart from app.models (which holds every other table) so that module stays readable;
both register on the same `Base.metadata`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, Text, func
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

NOW = func.now()


class RespondioWebhook(Base):
    """A workspace's respond.io webhook: the SHA-256 of the random key in its URL and the
    signing key respond.io signs events with (encrypted). Deleted by DELETE: the key is then
    unknown (404)."""

    __tablename__ = "respondio_webhooks"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_encrypted: Mapped[str] = mapped_column(Text)
    signing_key_encrypted: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW, onupdate=NOW)


class RespondioEvent(Base):
    """A `conversation.closed` event as delivered (unique per workspace and `event_id`), and
    the conversation it closed (`conversation_key`: the contact and its `openedTime`)."""

    __tablename__ = "respondio_events"
    __table_args__ = (
        Unique("workspace_id", "event_id"),
        Index("ix_respondio_events_recent", "workspace_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(255))
    conversation_key: Mapped[str] = mapped_column(String(128))
    contact_id: Mapped[str] = mapped_column(String(64))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW)


class LoggedConversation(Base):
    """One conversation, whatever the number of events naming it: the work of the logger and
    its outcome (`pending`, then `logged`, `skipped` or `failed` with `reason`).

    `event` is the payload of the first event. The Task's subject and description are
    computed once and kept (`subject`, `description`), so a retry writes exactly the same
    Task; `task_sent_at` is set before the Task is sent, so a retry after a lost answer or a
    crash first looks for that Task in Salesforce (by record, subject and description). The
    event and the description are cleared once the conversation is logged or skipped."""

    __tablename__ = "logged_conversations"
    __table_args__ = (
        Unique("workspace_id", "conversation_key"),
        Index("ix_logged_conversations_open", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    conversation_key: Mapped[str] = mapped_column(String(128))
    event: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    record_id: Mapped[str | None] = mapped_column(String(18))
    owner_id: Mapped[str | None] = mapped_column(String(18))
    subject: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    activity_date: Mapped[str | None] = mapped_column(String(10))
    task_id: Mapped[str | None] = mapped_column(String(18))
    task_url: Mapped[str | None] = mapped_column(Text)
    task_sent_at: Mapped[datetime | None] = mapped_column(DateTime(True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(True))
    created_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(True))
