"""All tables. Secrets are stored only as ciphertext (see app.crypto)."""

from __future__ import annotations

import enum
import json
import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models_grants import GrantMethod, SalesforceGrant  # noqa: F401 - re-exported

JSONType = JSON().with_variant(JSONB(), "postgresql")
NOW = func.now()

DEFAULT_VISIBLE_FIELDS = ["Name", "Email", "Phone", "MobilePhone", "Title", "LeadSource"]
DEFAULT_LEAD_VISIBLE_FIELDS = ["Name", "Company", "Email", "Phone", "Status"]


class ConnectionStatus(enum.StrEnum):
    """A workspace's Salesforce connection. Rows hold the first two; a workspace without a
    row is `disconnected`."""

    CONNECTED = "connected"
    REAUTHORIZATION_REQUIRED = "reauthorization_required"
    DISCONNECTED = "disconnected"


class EditStatus(enum.StrEnum):
    """A field edit made through respond.io (see app.edits.repository)."""

    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"


class Connection(Base):
    """A workspace's Salesforce connection. One row per workspace; deleted on disconnect.

    `id` changes on every fresh connect, so it doubles as the cache generation: nothing cached
    under an older connection can be served after a reconnect.
    """

    __tablename__ = "salesforce_connections"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), default=ConnectionStatus.CONNECTED.value)
    environment: Mapped[str] = mapped_column(String(16))
    login_url: Mapped[str] = mapped_column(String(255))
    instance_url: Mapped[str] = mapped_column(String(255))
    identity_url: Mapped[str] = mapped_column(String(512))
    organization_id: Mapped[str] = mapped_column(String(18), index=True)
    organization_name: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(18))
    username: Mapped[str] = mapped_column(String(255))
    user_display_name: Mapped[str | None] = mapped_column(String(255))
    user_email: Mapped[str | None] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The tokens: shared by the workspaces one Salesforce user connected (app.models_grants).
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("salesforce_grants.id"), index=True)
    webhook_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    webhook_key_encrypted: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    connected_by: Mapped[str] = mapped_column(String(64))
    # Why the connection needs attention (a stable word) and a sentence for people: set with
    # `reauthorization_required`, or while refreshes are held back (rate limit, login
    # restrictions, our app refused); cleared by the next good refresh or a reconnect.
    status_reason: Mapped[str | None] = mapped_column(String(64))
    status_detail: Mapped[str | None] = mapped_column(Text)
    # The keep-alive's claim, so one worker refreshes a quiet connection (app.workspace.keepalive).
    keepalive_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW, onupdate=NOW)


class WorkspaceSettings(Base):
    """Per-workspace choices. Kept across disconnects so a reconnect restores them."""

    __tablename__ = "workspace_settings"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    visible_fields: Mapped[list[str]] = mapped_column(
        JSONType, default=lambda: list(DEFAULT_VISIBLE_FIELDS)
    )
    editing_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    phone_matching: Mapped[str] = mapped_column(String(16), default="exact")
    auto_create_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_create_add_tag: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_create_include_bulk_imports: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_create_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Write-back (app/writeback): each off until an owner or manager turns it on.
    record_creation_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    activity_logging_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Leads in the lookup (docs/api.md); older rows got the defaults from the migration.
    leads_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    leads_visible_fields: Mapped[list[str]] = mapped_column(
        JSONType,
        default=lambda: list(DEFAULT_LEAD_VISIBLE_FIELDS),
        server_default=text(f"'{json.dumps(DEFAULT_LEAD_VISIBLE_FIELDS)}'"),
    )
    # `related` and `record_creation` (docs/whole-customer.md); null: the defaults.
    customer: Mapped[dict[str, object] | None] = mapped_column(JSONType)
    # Conversations logged automatically (app/conversation_logging, docs/conversation-logging.md).
    conversation_logging_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    conversation_logging_min_messages: Mapped[int] = mapped_column(
        Integer, default=1, server_default="1"
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW, onupdate=NOW)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class OAuthState(Base):
    """A pending authorization. Only the SHA-256 of `state` is stored; single use, expires."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(16))
    login_url: Mapped[str] = mapped_column(String(255))
    code_verifier_encrypted: Mapped[str] = mapped_column(Text)
    return_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- Automatic creation of respond.io contacts (app/autocreate) -----------------------------


class RespondioCredential(Base):
    """A workspace's respond.io Developer API token, encrypted; never returned by the API."""

    __tablename__ = "respondio_credentials"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_token_encrypted: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW, onupdate=NOW)


class AutocreateContact(Base):
    """One Salesforce Contact seen by auto-create: the dedup key and the durable outcome.

    `status` is pending, waiting (for the respond.io token; resumed when it is set), created,
    skipped or failed; `reason` says why for the last four.
    The queue job only carries `id`. Contact data is kept while the outcome is open and
    cleared once the contact is created or skipped.
    """

    __tablename__ = "autocreate_contacts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "salesforce_contact_id"),
        Index("ix_autocreate_contacts_batch", "workspace_id", "sf_created_by_id", "sf_created_at"),
        Index("ix_autocreate_contacts_workspace_status", "workspace_id", "status"),
        Index(
            "ix_autocreate_contacts_pending",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    salesforce_contact_id: Mapped[str] = mapped_column(String(18))
    organization_id: Mapped[str] = mapped_column(String(18))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    mobile_phone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(64))
    sf_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sf_created_by_id: Mapped[str | None] = mapped_column(String(18))
    bulk_import: Mapped[bool | None] = mapped_column(Boolean)
    respondio_identifier: Mapped[str | None] = mapped_column(String(400))
    respondio_contact_id: Mapped[str | None] = mapped_column(String(64))
    create_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW, onupdate=NOW)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AutocreateNotification(Base):
    """Outbound Message notifications already stored (Salesforce delivers at least once)."""

    __tablename__ = "autocreate_notifications"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    salesforce_contact_id: Mapped[str | None] = mapped_column(String(18))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class AutocreateWorkspace(Base):
    """Per-workspace reconciliation state: the watermark and the schedule claim."""

    __tablename__ = "autocreate_workspaces"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_reconcile_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_reconciled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Reconciliations in a row that found nothing new: the next one waits longer.
    idle_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Why reconciliation is paused (the org's API usage), null while it runs.
    paused_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW, onupdate=NOW)


class AutocreateWebhookKey(Base):
    """Hashes of webhook keys handed out, so a message for a workspace that has since
    disconnected is acknowledged and dropped (Salesforce stops retrying) instead of 404."""

    __tablename__ = "autocreate_webhook_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), index=True)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


# --- Field edits made through respond.io (app/contacts/edits.py) -----------------------------

EditValue = str | int | float | bool | None


class ContactFieldEdit(Base):
    """One field of one Contact edit made through respond.io: who changed what, from what, to
    what. Recorded in two phases so no edit is lost or half-recorded: the row is inserted as
    `pending` before the write to Salesforce, then marked `applied` (or `failed` on a definite
    rejection). A `pending` row left by a crash is settled later by comparing with the value
    Salesforce holds. A revert marks the row (`reverted_at`, `reverted_by`) instead of adding
    one; `revert_started_at`/`revert_started_by` make the revert two-phase in the same way.
    """

    __tablename__ = "contact_field_edits"
    __table_args__ = (
        Index(
            "ix_contact_field_edits_contact",
            "workspace_id",
            "organization_id",
            "contact_id",
            "field",
            "id",
        ),
        Index(
            "ix_contact_field_edits_unsettled",
            "workspace_id",
            "contact_id",
            postgresql_where=text("status = 'pending' OR revert_started_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(String(18))
    # The record's id; `object` says what it is (Contact or Lead share all else of this table).
    contact_id: Mapped[str] = mapped_column(String(18))
    object: Mapped[str] = mapped_column(
        String(16), default="Contact", server_default=text("'Contact'")
    )
    # The fields written by one request share a change id (one PATCH, applied as a whole).
    change_id: Mapped[uuid.UUID] = mapped_column(index=True)
    field: Mapped[str] = mapped_column(String(80))
    # JSON values as Salesforce holds them (JSON null for an empty field).
    old_value: Mapped[EditValue] = mapped_column(JSONType, nullable=True)
    new_value: Mapped[EditValue] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    failure: Mapped[str | None] = mapped_column(String(64))
    edited_by: Mapped[str] = mapped_column(String(64))
    edited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reverted_by: Mapped[str | None] = mapped_column(String(64))
    revert_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revert_started_by: Mapped[str | None] = mapped_column(String(64))


class WritebackIdempotencyKey(Base):
    """An `Idempotency-Key` of a create (app/writeback): the request's hash, `pending` until
    Salesforce answered, then `done` with the answer (`response`). Honoured for 24 hours.
    `attempt_started_at`: the lease of the attempt in flight (see LoggedActivity)."""

    __tablename__ = "writeback_idempotency_keys"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    sobject: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    response: Mapped[dict[str, object] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    attempt_started_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW)


class LoggedActivity(Base):
    """A conversation logged as a Task (app/writeback), unique per (workspace, external_id):
    `pending` (with the `marker` the Task's Description carries) before the Task is created,
    then `created` with `task_id`; a pending row is settled by its marker before a retry."""

    __tablename__ = "logged_activities"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_logged_activities_record", "workspace_id", "record_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(String(18))
    external_id: Mapped[str] = mapped_column(String(255))
    record_id: Mapped[str] = mapped_column(String(18))
    marker: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    task_id: Mapped[str | None] = mapped_column(String(18))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW)
    attempt_started_at: Mapped[datetime] = mapped_column(DateTime(True), server_default=NOW)


# --- The org's Salesforce API allocation (app/workspace/budget.py) ---------------------------


class SalesforceApiUsage(Base):
    """The latest `Sforce-Limit-Info: api-usage=USED/LIMIT` seen for an org, by any replica."""

    __tablename__ = "salesforce_api_usage"

    organization_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger)
    api_limit: Mapped[int] = mapped_column(BigInteger)
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SalesforceApiCalls(Base):
    """Salesforce calls this service made for a workspace, per purpose and UTC day."""

    __tablename__ = "salesforce_api_calls"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)


class SalesforceDescribe(Base):
    """An sObject describe, shared by every process: one fetch per connection per TTL."""

    __tablename__ = "salesforce_describes"

    connection_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sobject: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[dict] = mapped_column(JSONType)  # type: ignore[type-arg]
    last_modified: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
