"""contact field edits: the history of edits made through respond.io, with reverts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_field_edits",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=18), nullable=False),
        sa.Column("contact_id", sa.String(length=18), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("old_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure", sa.String(length=64), nullable=True),
        sa.Column("edited_by", sa.String(length=64), nullable=False),
        sa.Column(
            "edited_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reverted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reverted_by", sa.String(length=64), nullable=True),
        sa.Column("revert_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revert_started_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_field_edits")),
    )
    op.create_index(
        op.f("ix_contact_field_edits_change_id"),
        "contact_field_edits",
        ["change_id"],
        unique=False,
    )
    op.create_index(
        "ix_contact_field_edits_contact",
        "contact_field_edits",
        ["workspace_id", "organization_id", "contact_id", "field", "id"],
        unique=False,
    )
    op.create_index(
        "ix_contact_field_edits_unsettled",
        "contact_field_edits",
        ["workspace_id", "contact_id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending' OR revert_started_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_contact_field_edits_unsettled",
        table_name="contact_field_edits",
        postgresql_where=sa.text("status = 'pending' OR revert_started_at IS NOT NULL"),
    )
    op.drop_index("ix_contact_field_edits_contact", table_name="contact_field_edits")
    op.drop_index(op.f("ix_contact_field_edits_change_id"), table_name="contact_field_edits")
    op.drop_table("contact_field_edits")
