"""Auto-create's part in the change stream (app/stream; the worker wires the two): a Contact
created in Salesforce arrives as a CREATE event and goes through the same intake as Outbound
Messages and reconciliation (`store_contacts`), so one Contact is one respond.io contact
whichever path saw it first; and when the stream lost events (overflow, an expired replay
id), the org's workspaces are reconciled at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.autocreate.ingest import ContactSeen, store_contacts
from app.autocreate.outcomes import enabled_since
from app.config import Settings
from app.models import AutocreateWorkspace, Connection, ConnectionStatus, WorkspaceSettings


class AutocreateStreamHooks:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def _workspaces(
        self, session: AsyncSession, organization_id: str
    ) -> list[WorkspaceSettings]:
        rows = await session.scalars(
            select(WorkspaceSettings)
            .join(Connection, Connection.workspace_id == WorkspaceSettings.workspace_id)
            .where(
                Connection.organization_id == organization_id,
                Connection.status == ConnectionStatus.CONNECTED.value,
                WorkspaceSettings.auto_create_enabled,
            )
        )
        return list(rows)

    async def created(
        self, session: AsyncSession, organization_id: str, records: list[dict[str, Any]]
    ) -> None:
        language_field = self.settings.autocreate_language_field.strip() or None
        seen = [ContactSeen.from_fields(r, language_field=language_field) for r in records]
        for workspace in await self._workspaces(session, organization_id):
            floor = enabled_since(workspace)
            fresh = [
                c for c in seen if floor is None or c.created_at is None or c.created_at >= floor
            ]
            if fresh:
                await store_contacts(
                    session,
                    workspace_id=workspace.workspace_id,
                    organization_id=organization_id,
                    source="stream",
                    contacts=fresh,
                    settle=timedelta(seconds=self.settings.autocreate_bulk_settle_seconds),
                )

    async def resync(self, session: AsyncSession, organization_id: str) -> None:
        """Reconcile the org's workspaces on the next tick, stream or not (a run since the
        stream became healthy is what lets reconciliation rest again)."""
        workspaces = [w.workspace_id for w in await self._workspaces(session, organization_id)]
        if workspaces:
            await session.execute(
                update(AutocreateWorkspace)
                .where(AutocreateWorkspace.workspace_id.in_(workspaces))
                .values(next_reconcile_at=None, idle_streak=0, last_reconciled_at=None)
            )
