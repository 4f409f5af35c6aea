"""lead settings: whether the lookup shows unconverted Leads, and which Lead fields

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "workspace_settings",
        sa.Column("leads_enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "workspace_settings",
        sa.Column(
            "leads_visible_fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default=sa.text('\'["Name", "Company", "Email", "Phone", "Status"]\''),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("workspace_settings", "leads_visible_fields")
    op.drop_column("workspace_settings", "leads_enabled")
