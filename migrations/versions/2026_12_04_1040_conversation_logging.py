"""conversation logging: the settings, the respond.io webhook, its events, one row per conversation

Revision ID: 0009_conversation_logging
Revises: 0025_change_streams
Create Date: 2026-12-04 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_conversation_logging"
down_revision: str | None = "0025_change_streams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.add_column(
        "workspace_settings",
        sa.Column(
            "conversation_logging_enabled",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
    )
    op.add_column(
        "workspace_settings",
        sa.Column(
            "conversation_logging_min_messages", sa.Integer(), server_default="1", nullable=False
        ),
    )
    op.create_table(
        "respondio_webhooks",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_encrypted", sa.Text(), nullable=False),
        sa.Column("signing_key_encrypted", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_respondio_webhooks")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_respondio_webhooks_key_hash")),
    )
    op.create_table(
        "respondio_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("conversation_key", sa.String(length=128), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("contact_phone", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respondio_events")),
        sa.UniqueConstraint(
            "workspace_id", "event_id", name=op.f("uq_respondio_events_workspace_id")
        ),
    )
    op.create_index("ix_respondio_events_recent", "respondio_events", ["workspace_id", "id"])
    op.create_table(
        "logged_conversations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_key", sa.String(length=128), nullable=False),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("record_id", sa.String(length=18), nullable=True),
        sa.Column("owner_id", sa.String(length=18), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("activity_date", sa.String(length=10), nullable=True),
        sa.Column("task_id", sa.String(length=18), nullable=True),
        sa.Column("task_url", sa.Text(), nullable=True),
        sa.Column("task_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logged_conversations")),
        sa.UniqueConstraint(
            "workspace_id",
            "conversation_key",
            name=op.f("uq_logged_conversations_workspace_id"),
        ),
    )
    op.create_index(
        "ix_logged_conversations_open", "logged_conversations", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("logged_conversations")
    op.drop_table("respondio_events")
    op.drop_table("respondio_webhooks")
    op.drop_column("workspace_settings", "conversation_logging_min_messages")
    op.drop_column("workspace_settings", "conversation_logging_enabled")
