"""A short-lived, in-process snapshot of a workspace's connection and settings.

A cached lookup must not pay a database round-trip: it needs only the connection id (the
cache generation), the instance URL and the settings. They are kept here for a few seconds
per workspace, loaded once for concurrent callers, and dropped at once in this process by
disconnect/reconnect (app.workspace.caches) and by a settings change.

With a shared cache (`CACHE_URL`), other replicas drop their snapshot at once too (see
app.workspace.bus); without one, another replica learns of a disconnect or a settings change
only when its snapshot expires: the window is `CONTEXT_TTL_SECONDS`. Answers from Salesforce
keep the workspace's own data inside the workspace either way: the keys carry the workspace id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from app import errors as app_errors
from app.db import Database
from app.kit.clocks import Clock, monotonic
from app.kit.singleflight import TTLSingleFlight
from app.models import (
    DEFAULT_LEAD_VISIBLE_FIELDS,
    DEFAULT_VISIBLE_FIELDS,
    ConnectionStatus,
    WorkspaceSettings,
)
from app.workspace import repository
from app.workspace.related_settings import CustomerSettings, RelatedSettings

CONTEXT_TTL_SECONDS = 5.0
CONTEXT_MAX_WORKSPACES = 50_000


@dataclass(frozen=True, slots=True)
class AutoCreate:
    enabled: bool = False
    add_tag: bool = True
    include_bulk_imports: bool = False


@dataclass(frozen=True, slots=True)
class LeadSettings:
    enabled: bool = False
    visible_fields: tuple[str, ...] = tuple(DEFAULT_LEAD_VISIBLE_FIELDS)


@dataclass(frozen=True, slots=True)
class ConversationLogging:
    enabled: bool = False
    min_messages: int = 1


@dataclass(frozen=True, slots=True)
class SettingsSnapshot:
    visible_fields: tuple[str, ...] = tuple(DEFAULT_VISIBLE_FIELDS)
    editing_enabled: bool = False
    phone_matching: str = "exact"
    auto_create: AutoCreate = field(default_factory=AutoCreate)
    auto_create_enabled_at: datetime | None = None
    record_creation_enabled: bool = False
    activity_logging_enabled: bool = False
    leads: LeadSettings = field(default_factory=LeadSettings)
    customer: CustomerSettings = field(default_factory=CustomerSettings)

    @property
    def related(self) -> RelatedSettings:
        return self.customer.related

    conversation_logging: ConversationLogging = field(default_factory=ConversationLogging)

    @classmethod
    def from_row(cls, row: WorkspaceSettings | None) -> SettingsSnapshot:
        if row is None:
            return cls()
        return cls(
            visible_fields=tuple(row.visible_fields or ()),
            editing_enabled=bool(row.editing_enabled),
            phone_matching=row.phone_matching or "exact",
            auto_create=AutoCreate(
                enabled=bool(row.auto_create_enabled),
                add_tag=bool(row.auto_create_add_tag),
                include_bulk_imports=bool(row.auto_create_include_bulk_imports),
            ),
            auto_create_enabled_at=row.auto_create_enabled_at,
            record_creation_enabled=bool(row.record_creation_enabled),
            activity_logging_enabled=bool(row.activity_logging_enabled),
            leads=LeadSettings(
                enabled=bool(row.leads_enabled),
                visible_fields=tuple(
                    DEFAULT_LEAD_VISIBLE_FIELDS
                    if row.leads_visible_fields is None
                    else row.leads_visible_fields
                ),
            ),
            customer=CustomerSettings.from_json(row.customer),
            conversation_logging=ConversationLogging(
                enabled=bool(row.conversation_logging_enabled),
                min_messages=row.conversation_logging_min_messages or 1,
            ),
        )


@dataclass(frozen=True, slots=True)
class WorkspaceContext:
    workspace_id: str
    settings: SettingsSnapshot
    connection_id: uuid.UUID | None = None
    connection_status: str | None = None
    instance_url: str | None = None
    organization_id: str | None = None
    status_reason: str | None = None
    status_detail: str | None = None


class ContextChanged(Exception):
    """The connection moved on (reconnect elsewhere) while a snapshot was in use."""


async def read_context(db: Database, workspace_id: str) -> WorkspaceContext:
    connection, settings_row = await repository.connection_and_settings(db, workspace_id)
    snapshot = SettingsSnapshot.from_row(settings_row)
    if connection is None:
        return WorkspaceContext(workspace_id=workspace_id, settings=snapshot)
    c = connection
    return WorkspaceContext(
        workspace_id,
        snapshot,
        c.id,
        c.status,
        c.instance_url,
        c.organization_id,
        c.status_reason,
        c.status_detail,
    )


class WorkspaceContexts:
    def __init__(
        self,
        db: Database,
        *,
        ttl_seconds: float = CONTEXT_TTL_SECONDS,
        max_workspaces: int = CONTEXT_MAX_WORKSPACES,
        clock: Clock = monotonic,
    ) -> None:
        self._db = db
        self._cache: TTLSingleFlight[str, WorkspaceContext] = TTLSingleFlight(
            ttl_seconds=ttl_seconds, max_entries=max_workspaces, clock=clock
        )

    @property
    def db(self) -> Database:
        return self._db

    async def get(self, workspace_id: str) -> WorkspaceContext:
        context = self._cache.peek(workspace_id)
        if context is not None:
            return context
        return await self._cache.get(workspace_id, lambda: read_context(self._db, workspace_id))

    def invalidate(self, workspace_id: str) -> None:
        self._cache.invalidate(workspace_id)


def require_connected(context: WorkspaceContext) -> uuid.UUID:
    """The connection id, or the error (docs/api.md, "Errors") for a workspace that cannot
    call Salesforce."""
    if context.connection_id is None:
        raise app_errors.SalesforceNotConnected()
    if context.connection_status == ConnectionStatus.REAUTHORIZATION_REQUIRED:
        error = app_errors.SalesforceReauthorizationRequired(context.status_detail or None)
        if context.status_reason:
            error.extra["reason"] = context.status_reason
        raise error
    return context.connection_id


def require_enabled(
    context: WorkspaceContext,
    sobject: str,
    enabled: bool,
    refusal: type[app_errors.AppError],
    leads_off: str,
) -> uuid.UUID:
    """The connection id once the feature is `enabled` and, for a Lead, Leads are turned on
    (else `refusal`, with `leads_off` as its detail for a Lead); then as `require_connected`."""
    if not enabled:
        raise refusal()
    if sobject == "Lead" and not context.settings.leads.enabled:
        raise refusal(leads_off)
    return require_connected(context)
