"""Pydantic I/O for the fields and settings endpoints (docs/api.md, "Fields and settings")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.workspace.related_settings import MAX_LIMIT


class PicklistValueOut(BaseModel):
    value: str
    label: str
    active: bool


class ContactFieldOut(BaseModel):
    name: str = Field(examples=["Title"])
    label: str = Field(examples=["Title"])
    type: str = Field(examples=["string"])
    updateable: bool
    editable: bool = Field(description="`updateable` and not of type `email` or `phone`.")
    nillable: bool
    length: int
    picklist_values: list[PicklistValueOut]


class AutoCreateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = Field(
        description="Create a respond.io contact for every Salesforce Contact created from now on."
    )
    add_tag: StrictBool = Field(description="Tag created contacts `Auto-created: Salesforce`.")
    include_bulk_imports: StrictBool = Field(
        description="Also create contacts for Contacts that arrived through a bulk import."
    )


class SettingsWarning(BaseModel):
    code: str = Field(examples=["respondio_token_missing", "match_field_hidden"])
    message: str
    object: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        examples=["Contact"],
        description="`match_field_hidden`: the object whose match field is hidden.",
    )
    field: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        examples=["MobilePhone"],
        description="`match_field_hidden`: the field the connected user cannot see.",
    )


FieldName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]


class LeadSettingsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = Field(
        description="When no Contact matches, the lookup shows an unconverted Lead that does."
    )
    visible_fields: list[FieldName] = Field(
        max_length=100,
        description="Lead fields shown in the sidebar, in order; each must exist on Lead.",
    )


class RelatedAccountDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = Field(description="Show the matched Contact's Account.")
    fields: list[FieldName] = Field(
        min_length=1, max_length=30, description="Account fields, in order."
    )


class RelatedListDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool
    fields: list[FieldName] = Field(min_length=1, max_length=30, description="In order.")
    limit: StrictInt = Field(ge=1, le=MAX_LIMIT, description="At most this many records.")


class RelatedDocument(BaseModel):
    """What the lookup shows around a matched Contact (docs/whole-customer.md)."""

    model_config = ConfigDict(extra="forbid")

    account: RelatedAccountDocument
    opportunities: RelatedListDocument = Field(
        description="The open Opportunities of the Contact's Account, soonest CloseDate first."
    )
    cases: RelatedListDocument = Field(description="The Contact's open Cases, newest first.")


class RecordCreationDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_accounts: StrictBool = Field(
        description="In an org with Person Accounts, `POST .../contacts` creates a person "
        "account (and answers its person Contact)."
    )


class ConversationLoggingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = Field(
        description="Log every conversation respond.io closes as a completed Salesforce Task "
        "on the matching Contact or Lead (docs/conversation-logging.md)."
    )
    min_messages: int = Field(
        ge=1,
        le=10_000,
        description="Conversations with fewer messages are skipped (and recorded as such).",
    )


class SettingsDocument(BaseModel):
    """The whole settings document, as stored (defaults when never saved)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "visible_fields": ["Name", "Email", "Phone", "MobilePhone", "Title"],
                    "editing_enabled": False,
                    "phone_matching": "exact",
                    "auto_create": {
                        "enabled": False,
                        "add_tag": True,
                        "include_bulk_imports": False,
                    },
                    "record_creation_enabled": False,
                    "activity_logging_enabled": False,
                    "leads": {
                        "enabled": False,
                        "visible_fields": ["Name", "Company", "Email", "Phone", "Status"],
                    },
                    "related": {
                        "account": {"enabled": True, "fields": ["Name", "Industry", "Phone"]},
                        "opportunities": {
                            "enabled": True,
                            "fields": ["Name", "StageName", "Amount", "CloseDate"],
                            "limit": 5,
                        },
                        "cases": {
                            "enabled": True,
                            "fields": ["CaseNumber", "Subject", "Status", "Priority"],
                            "limit": 5,
                        },
                    },
                    "record_creation": {"person_accounts": False},
                    "conversation_logging": {"enabled": False, "min_messages": 1},
                }
            ]
        },
    )

    visible_fields: list[FieldName] = Field(
        max_length=100,
        description="Contact fields shown in the sidebar, in order; each must exist on Contact.",
    )
    editing_enabled: StrictBool
    phone_matching: Literal["exact", "normalized"] = Field(
        description="`exact`: the stored string must equal the given one. `normalized`: both "
        "sides are compared as E.164 numbers."
    )
    auto_create: AutoCreateSettings
    # Added in the second round: a GET always carries them (optional in SettingsUpdate).
    record_creation_enabled: StrictBool = Field(
        description="Every user may create Salesforce Contacts (and Leads, when Leads are "
        "enabled) from respond.io. Default false; omitted in a PUT keeps the stored value.",
    )
    activity_logging_enabled: StrictBool = Field(
        description="Every user may log conversations to Salesforce as completed Tasks. "
        "Default false; omitted in a PUT keeps the stored value.",
    )
    leads: LeadSettingsDocument
    related: RelatedDocument = Field(
        description="The Account, open Opportunities and open Cases shown with a matched "
        "Contact; each off by default."
    )
    record_creation: RecordCreationDocument
    conversation_logging: ConversationLoggingSettings | None = Field(
        default=None,
        description="Conversations logged automatically when respond.io closes them. "
        "Omitted in a PUT keeps the stored value; a GET always carries it.",
    )
    warnings: list[SettingsWarning] | None = Field(
        default=None,
        exclude_if=lambda value: not value,
        json_schema_extra={"readOnly": True},
        description="Read-only, in answers only when there is something to say (e.g. "
        "`respondio_token_missing`: auto-create is on but no respond.io API token is stored). "
        "Ignored in a PUT.",
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # null is not a value of `leads`, `related`, `record_creation`


class SettingsUpdate(SettingsDocument):
    """A PUT replaces the document. Keys added after the first version (`leads`) may be
    omitted: the stored value is kept."""

    # Added in the second round: optional in a PUT, so callers that never send them keep
    # working; an omitted (or null) key keeps the stored value. A GET always carries them.
    record_creation_enabled: StrictBool | None = Field(  # type: ignore[assignment]
        default=None,
        description="Every user may create Salesforce Contacts (and Leads, when Leads are "
        "enabled) from respond.io. Omitted (or null): the stored value is kept.",
    )
    activity_logging_enabled: StrictBool | None = Field(  # type: ignore[assignment]
        default=None,
        description="Every user may log conversations to Salesforce as completed Tasks. "
        "Omitted (or null): the stored value is kept.",
    )
    # Omitted: the stored value is kept; null is refused (the schema does not offer it).
    leads: LeadSettingsDocument | SkipJsonSchema[None] = Field(  # type: ignore[assignment]
        default=None,
        description="Omitted: the stored value is kept.",
        json_schema_extra=_no_default,
    )
    related: RelatedDocument | SkipJsonSchema[None] = Field(  # type: ignore[assignment]
        default=None,
        description="Omitted: the stored value is kept.",
        json_schema_extra=_no_default,
    )
    record_creation: RecordCreationDocument | SkipJsonSchema[None] = Field(  # type: ignore[assignment]
        default=None,
        description="Omitted: the stored value is kept.",
        json_schema_extra=_no_default,
    )

    @field_validator("leads", "related", "record_creation", "conversation_logging", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("omit the key to keep the stored value; null is not a value")
        return value
