"""shared Salesforce grants: one stored grant per Salesforce user (and client credentials)

Salesforce keeps at most five approvals of one app per user, so workspaces connected by the
same Salesforce user of one org now share one grant. Existing connections move their tokens
into grants without anyone reconnecting: per (org, user) the tokens of the connection that
works and was refreshed (or connected) last are kept, and every connection of that user uses
them. The other approvals stay at Salesforce until it retires them as the oldest.

Revision ID: 0008_shared_grants
Revises: 0007_writeback_key_attempts
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_shared_grants"
down_revision: str | None = "0007_writeback_key_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONNECTIONS = "salesforce_connections"
GRANTS = "salesforce_grants"
MOVED = ("access_token_encrypted", "refresh_token_encrypted")
MOVED_TIMES = ("tokens_refreshed_at", "refresh_not_before")


def upgrade() -> None:
    op.create_table(
        GRANTS,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=18), nullable=False),
        sa.Column("user_id", sa.String(length=18), nullable=False),
        sa.Column("login_url", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("access_token_encrypted", sa.Text(), nullable=False),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("tokens_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_salesforce_grants")),
    )
    op.create_index(
        "uq_salesforce_grants_web_server_user",
        GRANTS,
        ["organization_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("method = 'web_server'"),
    )
    op.add_column(CONNECTIONS, sa.Column("grant_id", sa.Uuid(), nullable=True))
    op.execute(
        """
        INSERT INTO salesforce_grants (id, method, organization_id, user_id, login_url,
            access_token_encrypted, refresh_token_encrypted, issued_at, tokens_refreshed_at,
            refresh_not_before)
        SELECT DISTINCT ON (organization_id, user_id)
            gen_random_uuid(), 'web_server', organization_id, user_id, login_url,
            access_token_encrypted, refresh_token_encrypted, connected_at, tokens_refreshed_at,
            refresh_not_before
        FROM salesforce_connections
        ORDER BY organization_id, user_id, (status = 'connected') DESC,
            COALESCE(tokens_refreshed_at, connected_at) DESC
        """
    )
    op.execute(
        """
        UPDATE salesforce_connections AS c SET grant_id = g.id FROM salesforce_grants AS g
        WHERE g.organization_id = c.organization_id AND g.user_id = c.user_id
        """
    )
    # A connection whose own grant had died now uses its user's working one.
    op.execute(
        """
        UPDATE salesforce_connections SET status = 'connected', status_reason = NULL,
            status_detail = NULL
        WHERE status = 'reauthorization_required' AND grant_id IN (
            SELECT grant_id FROM salesforce_connections WHERE status = 'connected')
        """
    )
    op.alter_column(CONNECTIONS, "grant_id", nullable=False)
    op.create_foreign_key(
        op.f("fk_salesforce_connections_grant_id_salesforce_grants"),
        CONNECTIONS,
        GRANTS,
        ["grant_id"],
        ["id"],
    )
    op.create_index(op.f("ix_salesforce_connections_grant_id"), CONNECTIONS, ["grant_id"])
    for name in (*MOVED, *MOVED_TIMES):
        op.drop_column(CONNECTIONS, name)


def downgrade() -> None:
    for name in MOVED:
        op.add_column(CONNECTIONS, sa.Column(name, sa.Text(), nullable=True))
    for name in MOVED_TIMES:
        op.add_column(CONNECTIONS, sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE salesforce_connections AS c SET access_token_encrypted = g.access_token_encrypted,
            refresh_token_encrypted = g.refresh_token_encrypted,
            tokens_refreshed_at = g.tokens_refreshed_at,
            refresh_not_before = g.refresh_not_before
        FROM salesforce_grants AS g WHERE g.id = c.grant_id
        """
    )
    op.alter_column(CONNECTIONS, "access_token_encrypted", nullable=False)
    op.drop_index(op.f("ix_salesforce_connections_grant_id"), table_name=CONNECTIONS)
    op.drop_constraint(
        op.f("fk_salesforce_connections_grant_id_salesforce_grants"),
        CONNECTIONS,
        type_="foreignkey",
    )
    op.drop_column(CONNECTIONS, "grant_id")
    op.drop_index("uq_salesforce_grants_web_server_user", table_name=GRANTS)
    op.drop_table(GRANTS)
