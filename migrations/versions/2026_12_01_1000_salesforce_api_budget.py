"""salesforce api budget: usage seen per org, calls per workspace/purpose/day, shared
describes, reconciliation back-off and pause reason

Revision ID: a13b0d9e7c41
Revises: 0005_edit_history_object
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a13b0d9e7c41"
down_revision: str | None = "0005_edit_history_object"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "salesforce_api_usage",
        sa.Column("organization_id", sa.String(length=18), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("api_limit", sa.BigInteger(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_salesforce_api_usage")),
    )
    op.create_table(
        "salesforce_api_calls",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id", "day", "purpose", name=op.f("pk_salesforce_api_calls")
        ),
    )
    op.create_table(
        "salesforce_describes",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("sobject", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "sobject", name=op.f("pk_salesforce_describes")),
    )
    op.create_index(
        op.f("ix_salesforce_describes_workspace_id"), "salesforce_describes", ["workspace_id"]
    )
    op.add_column(
        "autocreate_workspaces",
        sa.Column("idle_streak", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("autocreate_workspaces", sa.Column("paused_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("autocreate_workspaces", "paused_reason")
    op.drop_column("autocreate_workspaces", "idle_streak")
    op.drop_index("ix_salesforce_describes_workspace_id", table_name="salesforce_describes")
    op.drop_table("salesforce_describes")
    op.drop_table("salesforce_api_calls")
    op.drop_table("salesforce_api_usage")
