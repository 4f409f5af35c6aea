"""edit history of Leads: which object an edited record is (Contact or Lead)

Lead edits share the history table with Contact edits; every row written so far is a
Contact's.

Revision ID: 0005_edit_history_object
Revises: 0004_connection_health
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_edit_history_object"
down_revision: str | None = "0004_connection_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "contact_field_edits",
        sa.Column(
            "object", sa.String(length=16), server_default=sa.text("'Contact'"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("contact_field_edits", "object")
