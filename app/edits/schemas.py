"""Pydantic I/O for editing Contact fields, reverting and the edit history (docs/api.md,
"Contact edits")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.workspace.field_values import FieldName, FieldValue, as_field_map

MAX_FIELDS_PER_EDIT = 100
# Enough for the longest values of every editable field; the request is refused past it.
MAX_BODY_BYTES = 1_048_576
MAX_HISTORY_ROWS = 500


class EditRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"fields": {"Title": "CTO", "LeadSource": "Web"}}]},
    )

    fields: dict[FieldName, FieldValue] = Field(
        min_length=1,
        max_length=MAX_FIELDS_PER_EDIT,
        description="Field API name → new value. Every field must be visible and `editable`. "
        "Values as JSON: text, picklist value, `true`/`false`, a number, a date "
        "`YYYY-MM-DD`, a date-time with a time zone, or `null` to clear a field that may be "
        "empty.",
        json_schema_extra=as_field_map,
    )


class HistoryEntry(BaseModel):
    field: str = Field(examples=["Title"])
    old_value: FieldValue = Field(description="The value before the edit.", examples=["CEO"])
    new_value: FieldValue = Field(description="The value respond.io wrote.", examples=["CTO"])
    edited_by: str = Field(description="respond.io user id.", examples=["user-17"])
    edited_at: datetime
    reverted_at: datetime | None = Field(
        description="When the edit was undone through respond.io (null while it stands)."
    )
    reverted_by: str | None = Field(description="respond.io user id who reverted it.")
