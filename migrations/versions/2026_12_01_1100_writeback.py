"""write-back: the creation and activity toggles, idempotency keys of creates, logged activities

Revision ID: 0006_writeback
Revises: a13b0d9e7c41
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_writeback"
down_revision: str | None = "a13b0d9e7c41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("record_creation_enabled", "activity_logging_enabled"):
        op.add_column(
            "workspace_settings",
            sa.Column(column, sa.Boolean(), server_default=sa.text("false"), nullable=False),
        )
    op.create_table(
        "writeback_idempotency_keys",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("sobject", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("workspace_id", "key", name=op.f("pk_writeback_idempotency_keys")),
    )
    op.create_table(
        "logged_activities",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=18), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("record_id", sa.String(length=18), nullable=False),
        sa.Column("marker", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("task_id", sa.String(length=18), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "attempt_started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logged_activities")),
        sa.UniqueConstraint(
            "workspace_id", "external_id", name=op.f("uq_logged_activities_workspace_id")
        ),
    )
    op.create_index(
        "ix_logged_activities_record",
        "logged_activities",
        ["workspace_id", "record_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_logged_activities_record", table_name="logged_activities")
    op.drop_table("logged_activities")
    op.drop_table("writeback_idempotency_keys")
    for column in ("activity_logging_enabled", "record_creation_enabled"):
        op.drop_column("workspace_settings", column)
