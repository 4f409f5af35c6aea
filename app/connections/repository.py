"""The SQL of the connect flow: OAuth states and the workspace's connection row, each
statement group in its own short transaction (never across a Salesforce call)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.db import Database
from app.models import Connection, OAuthState
from app.salesforce.values import same_id

WEBHOOK_KEY_COLUMNS = frozenset({"webhook_key_hash", "webhook_key_encrypted"})


class OtherOrganization(Exception):
    """The workspace is connected to another Salesforce org; nothing was written."""

    def __init__(self, organization: str) -> None:
        super().__init__(organization)
        self.organization = organization  # the connected org's name, else its id


async def add_state(db: Database, state: OAuthState, *, sweep_before: datetime) -> None:
    """Store a new authorization state; states that expired before `sweep_before` go."""
    async with db.transaction() as session:
        await session.execute(delete(OAuthState).where(OAuthState.expires_at < sweep_before))
        session.add(state)


async def consume_state(db: Database, state_hash: str, now: datetime) -> OAuthState | None:
    """Mark the state used, atomically; None when unknown, expired or already used."""
    async with db.transaction() as session:
        row: OAuthState | None = await session.scalar(
            update(OAuthState)
            .where(
                OAuthState.state_hash == state_hash,
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > now,
            )
            .values(used_at=now)
            .returning(OAuthState)
        )
    return row


async def save_connection(
    db: Database, workspace_id: str, organization_id: str, values: dict[str, Any]
) -> tuple[Connection, str | None, bool]:
    """Insert the workspace's connection, or update it when it is to the same org.

    A reconnect to the same org keeps the row's webhook key (and so its webhook URL).
    Returns the row, the refresh token (encrypted) it replaced and whether it existed.
    OtherOrganization when the workspace is connected to another org."""
    for attempt in range(2):
        try:
            async with db.transaction() as session:
                row = await session.scalar(
                    select(Connection)
                    .where(Connection.workspace_id == workspace_id)
                    .with_for_update()
                )
                replaced_refresh: str | None = None
                existed = row is not None
                if row is None:
                    row = Connection(
                        workspace_id=workspace_id, organization_id=organization_id, **values
                    )
                    session.add(row)
                elif not same_id(row.organization_id, organization_id):
                    raise OtherOrganization(row.organization_name or row.organization_id)
                else:
                    replaced_refresh = row.refresh_token_encrypted
                    for name, value in values.items():
                        if name in WEBHOOK_KEY_COLUMNS and row.webhook_key_hash:
                            # The same org again: the Outbound Message an admin set up keeps
                            # working. Only a disconnect (the row goes) makes a new URL.
                            continue
                        setattr(row, name, value)
                await session.flush()
            return row, replaced_refresh, existed
        except IntegrityError:
            # Two callbacks of one workspace inserted at once: the retry updates the row.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def connection_of(db: Database, workspace_id: str) -> Connection | None:
    async with db.transaction() as session:
        row: Connection | None = await session.scalar(
            select(Connection).where(Connection.workspace_id == workspace_id)
        )
    return row


async def delete_connection(db: Database, workspace_id: str) -> Connection | None:
    """Delete the row (the tokens with it); the deleted row, or None when there was none."""
    async with db.transaction() as session:
        row: Connection | None = await session.scalar(
            delete(Connection).where(Connection.workspace_id == workspace_id).returning(Connection)
        )
    return row
