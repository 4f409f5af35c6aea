"""whole customer: the settings of related records and person-account creation

Revision ID: 0009_whole_customer
Revises: 0008_shared_grants
Create Date: 2026-12-04 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_whole_customer"
down_revision: str | None = "0008_shared_grants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null means the defaults (everything off): existing workspaces keep today's lookup.
    op.add_column(
        "workspace_settings",
        sa.Column("customer", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    )


def downgrade() -> None:
    op.drop_column("workspace_settings", "customer")
