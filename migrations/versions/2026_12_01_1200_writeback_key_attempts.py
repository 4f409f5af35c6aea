"""write-back: when the current attempt of a create's idempotency key started (its lease)

Revision ID: 0007_writeback_key_attempts
Revises: 0006_writeback
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_writeback_key_attempts"
down_revision: str | None = "0006_writeback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "writeback_idempotency_keys",
        sa.Column(
            "attempt_started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("writeback_idempotency_keys", "attempt_started_at")
