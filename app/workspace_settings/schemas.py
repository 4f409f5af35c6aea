"""Pydantic I/O for the fields and settings endpoints (docs/api.md, "Fields and settings")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.json_schema import SkipJsonSchema


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
    schema.pop("default", None)  # null is not a value of `leads`


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

    @field_validator("leads", "conversation_logging", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("omit the key to keep the stored value; null is not a value")
        return value
