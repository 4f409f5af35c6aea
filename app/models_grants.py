"""The Salesforce grants connections use (app.models re-exports them). Secrets are stored
only as ciphertext (see app.crypto)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class GrantMethod(enum.StrEnum):
    """How the grant was obtained (docs/connecting.md)."""

    WEB_SERVER = "web_server"
    CLIENT_CREDENTIALS = "client_credentials"


class SalesforceGrant(Base):
    """The credentials Salesforce issued, referenced by the connections that use them.

    Salesforce keeps at most five approvals of one app per user (the sixth revokes the
    oldest), so every workspace a Salesforce user connected through the web-server flow uses
    that user's one grant: at most one per (org, user). A client-credentials grant belongs to
    one connection; it has no refresh token, and its consumer key and (encrypted) secret ask
    for each new access token. A grant no connection uses is deleted.
    """

    __tablename__ = "salesforce_grants"
    __table_args__ = (
        Index(
            "uq_salesforce_grants_web_server_user",
            "organization_id",
            "user_id",
            unique=True,
            postgresql_where=text("method = 'web_server'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    method: Mapped[str] = mapped_column(String(32), default=GrantMethod.WEB_SERVER.value)
    organization_id: Mapped[str] = mapped_column(String(18))
    user_id: Mapped[str] = mapped_column(String(18))
    # Where tokens are asked and revoked: the login host, or the org's My Domain.
    login_url: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(255))
    client_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    tokens_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # No token request before this moment (Salesforce asked us to back off).
    refresh_not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
