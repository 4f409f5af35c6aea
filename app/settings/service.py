"""Fields (from the Contact describe) and the workspace's settings document."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select

from app import errors as app_errors
from app.contacts.cache import LookupCache
from app.db import Database
from app.models import WorkspaceSettings
from app.salesforce.errors import (
    NotConnected,
    ReauthorizationRequired,
    SalesforceError,
    to_app_error,
)
from app.settings.context import (
    ContextChanged,
    SettingsSnapshot,
    WorkspaceContext,
    WorkspaceContexts,
    read_context,
    require_connected,
)
from app.settings.fields import ContactDescribe, DescribeCache
from app.settings.schemas import (
    AutoCreateSettings,
    ContactFieldOut,
    PicklistValueOut,
    SettingsDocument,
)

logger = logging.getLogger("app.settings")

T = TypeVar("T")


def document(snapshot: SettingsSnapshot) -> SettingsDocument:
    return SettingsDocument(
        visible_fields=list(snapshot.visible_fields),
        editing_enabled=snapshot.editing_enabled,
        phone_matching=snapshot.phone_matching,  # type: ignore[arg-type]
        auto_create=AutoCreateSettings(
            enabled=snapshot.auto_create.enabled,
            add_tag=snapshot.auto_create.add_tag,
            include_bulk_imports=snapshot.auto_create.include_bulk_imports,
        ),
    )


async def with_salesforce_errors(
    contexts: WorkspaceContexts,
    workspace_id: str,
    call: Callable[[WorkspaceContext], Awaitable[T]],
) -> T:
    """Run `call` with the workspace's context; Salesforce failures become contract errors.
    A context that went stale under us (reconnect elsewhere) is reloaded and tried once more."""
    for attempt in (1, 2):
        context = await contexts.get(workspace_id)
        try:
            return await call(context)
        except ContextChanged:
            contexts.invalidate(workspace_id)
            if attempt == 2:
                raise app_errors.SalesforceUnavailable() from None
        except (NotConnected, ReauthorizationRequired) as exc:
            contexts.invalidate(workspace_id)
            raise to_app_error(exc) from exc
        except SalesforceError as exc:
            raise to_app_error(exc) from exc
    raise AssertionError("unreachable")


class SettingsService:
    def __init__(
        self,
        db: Database,
        contexts: WorkspaceContexts,
        describes: DescribeCache,
        lookups: LookupCache,
    ) -> None:
        self._db = db
        self._contexts = contexts
        self._describes = describes
        self._lookups = lookups

    async def describe(self, workspace_id: str) -> ContactDescribe:
        async def load(context: WorkspaceContext) -> ContactDescribe:
            require_connected(context)
            return await self._describes.get(context)

        return await with_salesforce_errors(self._contexts, workspace_id, load)

    async def fields(self, workspace_id: str) -> list[ContactFieldOut]:
        describe = await self.describe(workspace_id)
        return [
            ContactFieldOut(
                name=f.name,
                label=f.label,
                type=f.type,
                updateable=f.updateable,
                editable=f.editable,
                nillable=f.nillable,
                length=f.length,
                picklist_values=[
                    PicklistValueOut(value=p.value, label=p.label, active=p.active)
                    for p in f.picklist_values
                ],
            )
            for f in describe.fields
        ]

    async def get(self, workspace_id: str) -> SettingsDocument:
        context = await read_context(self._db, workspace_id)
        return document(context.settings)

    async def replace(
        self, workspace_id: str, new: SettingsDocument, user_id: str
    ) -> SettingsDocument:
        current = (await read_context(self._db, workspace_id)).settings
        visible = list(new.visible_fields)
        if visible != list(current.visible_fields):
            visible = await self._checked_fields(workspace_id, visible)
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(WorkspaceSettings)
                .where(WorkspaceSettings.workspace_id == workspace_id)
                .with_for_update()
            )
            if row is None:
                row = WorkspaceSettings(workspace_id=workspace_id, auto_create_enabled=False)
                session.add(row)
            if new.auto_create.enabled and not row.auto_create_enabled:
                row.auto_create_enabled_at = datetime.now(UTC)
            row.visible_fields = visible
            row.editing_enabled = new.editing_enabled
            row.phone_matching = new.phone_matching
            row.auto_create_enabled = new.auto_create.enabled
            row.auto_create_add_tag = new.auto_create.add_tag
            row.auto_create_include_bulk_imports = new.auto_create.include_bulk_imports
            row.updated_by = user_id
            await session.flush()
            saved = SettingsSnapshot.from_row(row)
        # What a lookup selects and how it matches may have changed: forget this workspace's
        # answers and snapshot at once (other replicas: at once with CACHE_URL, else within
        # the snapshot TTL).
        self._contexts.invalidate(workspace_id)
        await self._lookups.purge_workspace(workspace_id)
        logger.info(
            "settings.replaced",
            extra={
                "workspace_id": workspace_id,
                "user_id": user_id,
                "editing_enabled": saved.editing_enabled,
                "phone_matching": saved.phone_matching,
                "auto_create_enabled": saved.auto_create.enabled,
            },
        )
        return document(saved)

    async def _checked_fields(self, workspace_id: str, names: list[str]) -> list[str]:
        """The names in the describe's spelling; 422 naming unknown or repeated ones."""
        describe = await self.describe(workspace_id)
        unknown: list[str] = []
        repeated: list[str] = []
        seen: set[str] = set()
        canonical: list[str] = []
        for name in names:
            field = describe.field(name)
            if field is None:
                unknown.append(name)
                continue
            if field.name in seen:
                repeated.append(name)
                continue
            seen.add(field.name)
            canonical.append(field.name)
        problems = [
            {"field": "visible_fields", "message": f"{name!r} is not a field of Contact"}
            for name in unknown
        ] + [
            {"field": "visible_fields", "message": f"{name!r} is listed more than once"}
            for name in repeated
        ]
        if problems:
            detail = []
            if unknown:
                detail.append("unknown Contact fields: " + ", ".join(unknown))
            if repeated:
                detail.append("listed more than once: " + ", ".join(repeated))
            raise app_errors.ValidationFailed(
                "visible_fields: " + "; ".join(detail), errors=problems
            )
        return canonical
