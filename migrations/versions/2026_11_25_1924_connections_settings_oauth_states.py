"""connections settings oauth states

Revision ID: 0001
Revises:
Create Date: 2026-11-25 19:24:10.024035
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("login_url", sa.String(length=255), nullable=False),
        sa.Column("code_verifier_encrypted", sa.Text(), nullable=False),
        sa.Column("return_url", sa.String(length=2048), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
    )
    op.create_index(
        op.f("ix_oauth_states_expires_at"), "oauth_states", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_oauth_states_workspace_id"), "oauth_states", ["workspace_id"], unique=False
    )
    op.create_table(
        "salesforce_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("login_url", sa.String(length=255), nullable=False),
        sa.Column("instance_url", sa.String(length=255), nullable=False),
        sa.Column("identity_url", sa.String(length=512), nullable=False),
        sa.Column("organization_id", sa.String(length=18), nullable=False),
        sa.Column("organization_name", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=18), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("user_display_name", sa.String(length=255), nullable=True),
        sa.Column("user_email", sa.String(length=255), nullable=True),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("access_token_encrypted", sa.Text(), nullable=False),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("webhook_key_hash", sa.String(length=64), nullable=True),
        sa.Column("webhook_key_encrypted", sa.Text(), nullable=True),
        sa.Column(
            "connected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("connected_by", sa.String(length=64), nullable=False),
        sa.Column("tokens_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_salesforce_connections")),
        sa.UniqueConstraint(
            "webhook_key_hash", name=op.f("uq_salesforce_connections_webhook_key_hash")
        ),
        sa.UniqueConstraint("workspace_id", name=op.f("uq_salesforce_connections_workspace_id")),
    )
    op.create_index(
        op.f("ix_salesforce_connections_organization_id"),
        "salesforce_connections",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "workspace_settings",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column(
            "visible_fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("editing_enabled", sa.Boolean(), nullable=False),
        sa.Column("phone_matching", sa.String(length=16), nullable=False),
        sa.Column("auto_create_enabled", sa.Boolean(), nullable=False),
        sa.Column("auto_create_add_tag", sa.Boolean(), nullable=False),
        sa.Column("auto_create_include_bulk_imports", sa.Boolean(), nullable=False),
        sa.Column("auto_create_enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_settings")),
    )


def downgrade() -> None:
    op.drop_table("workspace_settings")
    op.drop_index(
        op.f("ix_salesforce_connections_organization_id"), table_name="salesforce_connections"
    )
    op.drop_table("salesforce_connections")
    op.drop_index(op.f("ix_oauth_states_workspace_id"), table_name="oauth_states")
    op.drop_index(op.f("ix_oauth_states_expires_at"), table_name="oauth_states")
    op.drop_table("oauth_states")
