"""The SQL of the settings document: one row per workspace in `workspace_settings`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.db import Database
from app.models import WorkspaceSettings
from app.workspace.context import SettingsSnapshot
from app.workspace.related_settings import CustomerSettings
from app.workspace_settings.schemas import SettingsUpdate


async def save(
    db: Database,
    workspace_id: str,
    new: SettingsUpdate,
    visible: list[str],
    lead_visible: list[str] | None,
    customer: CustomerSettings,
    user_id: str,
) -> SettingsSnapshot:
    """Replace the workspace's settings (the row locked meanwhile); `auto_create_enabled_at`
    moves only when auto-create is switched on; omitted keys (`new.leads`,
    `new.record_creation_enabled`, `new.activity_logging_enabled` None) keep their stored
    values."""
    async with db.transaction() as session:
        row = await session.scalar(
            select(WorkspaceSettings)
            .where(WorkspaceSettings.workspace_id == workspace_id)
            .with_for_update()
        )
        if row is None:
            row = WorkspaceSettings(
                workspace_id=workspace_id,
                auto_create_enabled=False,
                record_creation_enabled=False,
                activity_logging_enabled=False,
            )
            session.add(row)
        if new.auto_create.enabled and not row.auto_create_enabled:
            row.auto_create_enabled_at = datetime.now(UTC)
        row.visible_fields = visible
        row.editing_enabled = new.editing_enabled
        row.phone_matching = new.phone_matching
        row.auto_create_enabled = new.auto_create.enabled
        row.auto_create_add_tag = new.auto_create.add_tag
        row.auto_create_include_bulk_imports = new.auto_create.include_bulk_imports
        if new.record_creation_enabled is not None:
            row.record_creation_enabled = new.record_creation_enabled
        if new.activity_logging_enabled is not None:
            row.activity_logging_enabled = new.activity_logging_enabled
        if new.leads is not None and lead_visible is not None:
            row.leads_enabled = new.leads.enabled
            row.leads_visible_fields = lead_visible
        row.customer = customer.to_json()
        if new.conversation_logging is not None:
            row.conversation_logging_enabled = new.conversation_logging.enabled
            row.conversation_logging_min_messages = new.conversation_logging.min_messages
        row.updated_by = user_id
        await session.flush()
        return SettingsSnapshot.from_row(row)
