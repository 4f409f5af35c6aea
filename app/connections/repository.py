"""The SQL of the connect flow: OAuth states, the workspace's connection row and the grant it
uses, each statement group in its own short transaction (never across a Salesforce call).

Workspaces connected by the same Salesforce user (web-server flow) share one grant row. A
transaction that changes which connections use a grant locks that grant's row first, so two
disconnects at once cannot both think the other still uses it (and leave it unrevoked)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.models import Connection, ConnectionStatus, GrantMethod, OAuthState, SalesforceGrant
from app.salesforce.values import same_id
from app.workspace.repository import with_grant

WEBHOOK_KEY_COLUMNS = frozenset({"webhook_key_hash", "webhook_key_encrypted"})


class OtherOrganization(Exception):
    """The workspace is connected to another Salesforce org; nothing was written."""

    def __init__(self, organization: str) -> None:
        super().__init__(organization)
        self.organization = organization  # the connected org's name, else its id


@dataclass(frozen=True, slots=True)
class Retired:
    """A grant's tokens no workspace uses any more: what to revoke at Salesforce."""

    login_url: str
    refresh_token_encrypted: str | None = field(repr=False)
    access_token_encrypted: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Saved:
    row: Connection
    grant: SalesforceGrant
    existed: bool
    # Tokens replaced or grants left unused by this connect.
    retired: list[Retired]
    # Every workspace now using the grant, this one included.
    workspaces: list[str]


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


async def latest_state(db: Database, workspace_id: str) -> OAuthState | None:
    """The workspace's most recent authorization state (kept a day after it expired)."""
    async with db.transaction() as session:
        row: OAuthState | None = await session.scalar(
            select(OAuthState)
            .where(OAuthState.workspace_id == workspace_id)
            .order_by(OAuthState.created_at.desc())
            .limit(1)
        )
    return row


async def save_connection(
    db: Database,
    workspace_id: str,
    organization_id: str,
    values: dict[str, Any],
    grant_values: dict[str, Any],
) -> Saved:
    """Insert the workspace's connection, or update it when it is to the same org, and point
    it at its grant: the Salesforce user's web-server grant (created, or renewed with the new
    tokens for every workspace using it), or the workspace's own client-credentials grant.

    A reconnect to the same org keeps the row's webhook key (and so its webhook URL).
    OtherOrganization when the workspace is connected to another org."""
    for attempt in range(2):
        try:
            async with db.transaction() as session:
                return await _save(session, workspace_id, organization_id, values, grant_values)
        except IntegrityError:
            # Two connects inserted the same row or grant at once: the retry updates it.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _save(
    session: AsyncSession,
    workspace_id: str,
    organization_id: str,
    values: dict[str, Any],
    grant_values: dict[str, Any],
) -> Saved:
    row = await session.scalar(
        select(Connection).where(Connection.workspace_id == workspace_id).with_for_update()
    )
    if row is not None and not same_id(row.organization_id, organization_id):
        raise OtherOrganization(row.organization_name or row.organization_id)
    previous = row.grant_id if row is not None else None
    grant = await _grant_for(session, previous, grant_values)
    retired: list[Retired] = []
    if grant.id is not None:
        retired.append(_retired(grant))
        for name, value in grant_values.items():
            setattr(grant, name, value)
    else:
        grant.id = uuid.uuid4()
        session.add(grant)
    await session.flush()
    existed = row is not None
    if row is None:
        row = Connection(
            workspace_id=workspace_id,
            organization_id=organization_id,
            grant_id=grant.id,
            **values,
        )
        session.add(row)
    else:
        for name, value in values.items():
            if name in WEBHOOK_KEY_COLUMNS and row.webhook_key_hash:
                # The same org again: the Outbound Message an admin set up keeps working.
                # Only a disconnect (the row goes) makes a new URL.
                continue
            setattr(row, name, value)
        row.grant_id = grant.id
    await session.flush()
    if previous is not None and previous != grant.id:
        left = await _drop_if_unused(session, previous)
        if left is not None:
            retired.append(left)
    # The renewed grant works again for every workspace that uses it.
    workspaces = await session.scalars(
        update(Connection)
        .where(Connection.grant_id == grant.id)
        .values(
            status=ConnectionStatus.CONNECTED.value,
            status_reason=None,
            status_detail=None,
            instance_url=values["instance_url"],
        )
        .returning(Connection.workspace_id)
    )
    return Saved(row, grant, existed, retired, sorted(str(w) for w in workspaces.all()))


async def _grant_for(
    session: AsyncSession, previous: uuid.UUID | None, grant_values: dict[str, Any]
) -> SalesforceGrant:
    """The grant row to store the new tokens in, locked (a new, unsaved one has no id)."""
    if grant_values["method"] == GrantMethod.WEB_SERVER.value:
        found = await session.scalar(
            select(SalesforceGrant)
            .where(
                SalesforceGrant.method == GrantMethod.WEB_SERVER.value,
                SalesforceGrant.organization_id == grant_values["organization_id"],
                SalesforceGrant.user_id == grant_values["user_id"],
            )
            .with_for_update()
        )
    elif previous is not None:
        # Client credentials replace the workspace's own client-credentials grant.
        found = await session.scalar(
            select(SalesforceGrant)
            .where(
                SalesforceGrant.id == previous,
                SalesforceGrant.method == GrantMethod.CLIENT_CREDENTIALS.value,
            )
            .with_for_update()
        )
    else:
        found = None
    return found if found is not None else SalesforceGrant(id=None, **grant_values)


def _retired(grant: SalesforceGrant) -> Retired:
    return Retired(grant.login_url, grant.refresh_token_encrypted, grant.access_token_encrypted)


async def _drop_if_unused(session: AsyncSession, grant_id: uuid.UUID) -> Retired | None:
    """Delete the grant when no connection uses it any more; its tokens to revoke."""
    grant = await session.scalar(
        select(SalesforceGrant).where(SalesforceGrant.id == grant_id).with_for_update()
    )
    if grant is None:
        return None
    users = await session.scalar(
        select(func.count()).select_from(Connection).where(Connection.grant_id == grant_id)
    )
    if users:
        return None
    await session.delete(grant)
    return _retired(grant)


async def connection_of(
    db: Database, workspace_id: str
) -> tuple[Connection, SalesforceGrant, int] | None:
    """The workspace's connection, its grant and how many workspaces use that grant."""
    async with db.transaction() as session:
        found = (await session.execute(with_grant(workspace_id))).first()
        if found is None:
            return None
        shared = await session.scalar(
            select(func.count()).select_from(Connection).where(Connection.grant_id == found[1].id)
        )
    return found[0], found[1], int(shared or 1)


async def delete_connection(
    db: Database, workspace_id: str
) -> tuple[Connection | None, Retired | None]:
    """Delete the row; when no other workspace uses its grant, the grant too (tokens and
    secret gone). The deleted row (None when there was none) and what to revoke (None while
    the grant is still used)."""
    async with db.transaction() as session:
        # The row, then its grant: the order every writer of a grant's users takes.
        grant_id = await session.scalar(
            select(Connection.grant_id)
            .where(Connection.workspace_id == workspace_id)
            .with_for_update()
        )
        if grant_id is None:
            return None, None
        await session.scalar(
            select(SalesforceGrant.id).where(SalesforceGrant.id == grant_id).with_for_update()
        )
        row: Connection | None = await session.scalar(
            delete(Connection).where(Connection.workspace_id == workspace_id).returning(Connection)
        )
        if row is None:
            return None, None
        return row, await _drop_if_unused(session, row.grant_id)
