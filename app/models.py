"""All tables. Secrets are stored only as ciphertext (see app.crypto)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

JSONType = JSON().with_variant(JSONB(), "postgresql")

DEFAULT_VISIBLE_FIELDS = ["Name", "Email", "Phone", "MobilePhone", "Title", "LeadSource"]


class Connection(Base):
    """A workspace's Salesforce grant. One row per workspace; deleted on disconnect.

    `id` changes on every fresh connect, so it doubles as the cache generation: nothing cached
    under an older connection can be served after a reconnect.
    """

    __tablename__ = "salesforce_connections"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="connected")
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
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    webhook_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    webhook_key_encrypted: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    connected_by: Mapped[str] = mapped_column(String(64))
    tokens_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


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
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
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
