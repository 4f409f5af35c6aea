"""Request and response bodies of the auto-create endpoints."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field, SecretStr, field_validator


class WebhookSetup(BaseModel):
    outbound_message_url: str = Field(
        description="Endpoint URL for the Salesforce Outbound Message. Holds the workspace's "
        "secret key: treat it like a password."
    )
    fields_to_include: list[str] = Field(
        description="Contact fields to select in the Outbound Message. CreatedDate and "
        "CreatedById let bulk imports be recognised."
    )
    optional_fields_to_include: list[str] = Field(
        default_factory=list,
        description="Fields to add when the org has them (the contact's language).",
    )
    setup_steps: list[str]


class SkippedCounts(BaseModel):
    total: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)


class FailedCounts(BaseModel):
    total: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)


class LastError(BaseModel):
    at: datetime | None
    source: str = Field(
        description="`reconciliation`, `webhook` or `stream` (a Contact recorded as skipped "
        "when it arrived) or `job`"
    )
    message: str
    salesforce_contact_id: str | None = None


class AutoCreateStatus(BaseModel):
    enabled: bool
    created: int
    skipped: SkippedCounts
    failed: FailedCounts
    pending: int = Field(description="Contacts not settled yet, the waiting ones included.")
    waiting: int = Field(
        default=0, description="Of `pending`, the Contacts waiting for `waiting_for`."
    )
    waiting_for: str | None = Field(
        default=None,
        description="`respondio_token` while auto-create is on (or Contacts wait) and no "
        "respond.io API token is stored; the waiting Contacts are created once it is set.",
    )
    watermark: datetime | None = Field(
        description="Newest Salesforce CreatedDate reconciliation has stored."
    )
    last_reconciled_at: datetime | None
    last_error: LastError | None
    paused_reason: str | None = Field(
        default=None,
        description="Why reconciliation is paused (the Salesforce org's API usage is above "
        "SALESFORCE_API_BACKGROUND_MAX_USAGE); null while it runs.",
    )


# What the server accepts, exactly as the document says: up to 4,096 printable ASCII
# characters, which a pasted token may surround with spaces or line breaks (dropped).
PADDING = " \t\r\n"
API_TOKEN_PATTERN = r"^[ \t\r\n]*[!-~]{1,4096}[ \t\r\n]*$"


class RespondioCredentialsIn(BaseModel):
    api_token: SecretStr = Field(
        description="The workspace's respond.io Developer API token (Settings > Integrations "
        "> Developer API). Stored encrypted and never returned.",
        json_schema_extra={"minLength": 1, "pattern": API_TOKEN_PATTERN},
    )

    @field_validator("api_token")
    @classmethod
    def _token_shaped(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if not token.strip(PADDING):
            raise ValueError("must not be empty")
        if not re.fullmatch(API_TOKEN_PATTERN, token):
            raise ValueError("is not a respond.io API token")
        return SecretStr(token.strip(PADDING))


class RespondioCredentialsStatus(BaseModel):
    configured: bool
    updated_at: datetime | None = None
