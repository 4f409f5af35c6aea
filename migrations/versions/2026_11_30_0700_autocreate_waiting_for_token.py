"""auto-create: rows parked as failed for want of a respond.io token now wait for it

Jobs that found no respond.io token used to settle their row as `failed`
(`respondio_not_configured`) for good. They now park it as `waiting` and are resumed when the
token is set; rows parked the old way keep their data (failed rows do), so they wait too.

Revision ID: 0004_autocreate_waiting
Revises: 0004
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_autocreate_waiting"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE autocreate_contacts SET status = 'waiting', completed_at = NULL, "
        "updated_at = now() WHERE status = 'failed' AND reason = 'respondio_not_configured'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE autocreate_contacts SET status = 'failed', completed_at = now(), "
        "updated_at = now() WHERE status = 'waiting'"
    )
