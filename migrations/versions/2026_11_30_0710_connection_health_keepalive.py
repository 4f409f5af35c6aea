"""connection health: why a connection needs attention, refresh back-off, keep-alive claim

Revision ID: 0004_connection_health
Revises: 0004_autocreate_waiting
Create Date: 2026-11-30 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_connection_health"
down_revision: str | None = "0004_autocreate_waiting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "salesforce_connections"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("status_reason", sa.String(length=64), nullable=True))
    op.add_column(TABLE, sa.Column("status_detail", sa.Text(), nullable=True))
    op.add_column(TABLE, sa.Column("refresh_not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        TABLE, sa.Column("keepalive_claimed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    for name in ("keepalive_claimed_at", "refresh_not_before", "status_detail", "status_reason"):
        op.drop_column(TABLE, name)
