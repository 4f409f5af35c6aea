"""change streams: one row per org subscribed to Change Data Capture (who holds the stream
and until when, the last processed replay id per topic, its health), and the workers that
share the streams

Revision ID: 0025_change_streams
Revises: 0009_whole_customer
Create Date: 2026-12-04 10:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_change_streams"
down_revision: str | None = "0009_whole_customer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_streams",
        sa.Column("organization_id", sa.String(18), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        # Opaque replay ids, stored raw, after each processed batch.
        sa.Column("contact_replay_id", sa.LargeBinary(), nullable=True),
        sa.Column("lead_replay_id", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="connecting"),
        sa.Column("reason", sa.String(300), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("healthy_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_change_streams_lease", "change_streams", ["lease_until"])
    op.create_table(
        "change_stream_workers",
        sa.Column("worker_id", sa.String(64), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("change_stream_workers")
    op.drop_index("ix_change_streams_lease", table_name="change_streams")
    op.drop_table("change_streams")
