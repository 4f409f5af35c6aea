"""The change streams' tables (migration 0025): who holds each org's Change Data Capture
stream and until when, the last processed replay id per topic, its health; and the workers
sharing the streams (app/stream)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

STREAMING, UNAVAILABLE, CONNECTING, DISABLED = "streaming", "unavailable", "connecting", "disabled"


class ChangeStream(Base):
    __tablename__ = "change_streams"
    __table_args__ = (Index("ix_change_streams_lease", "lease_until"),)

    organization_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contact_replay_id: Mapped[bytes | None] = mapped_column(LargeBinary)
    lead_replay_id: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), server_default=CONNECTING)
    reason: Mapped[str | None] = mapped_column(String(300))
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    healthy_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    events: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChangeStreamWorker(Base):
    __tablename__ = "change_stream_workers"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
