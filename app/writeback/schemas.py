"""Pydantic I/O for creating records and logging activities (docs/api.md, "Creating
records" and "Activities")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
)

from app.workspace.contacts import ContactView, RecordView
from app.workspace.duplicates import AllowDuplicates
from app.workspace.field_values import FieldName, FieldValue, as_field_map

MAX_FIELDS_PER_CREATE = 100
MAX_BODY_BYTES = 1_048_576
# Salesforce's limit for Task.Description; longer transcripts are cut, never refused.
DESCRIPTION_LIMIT = 32_000
# Accepted before cutting: a transcript several times Salesforce's limit.
MAX_DESCRIPTION_LENGTH = 500_000
MAX_ACTIVITIES_LISTED = 200

# A Contact or Lead id, 15 or 18 characters (the checksum is checked too: 422).
RECORD_ID_PATTERN = r"^(003|00Q)[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$"
# Neither Salesforce nor PostgreSQL can hold a NUL character.
NO_NUL = r"^[^\x00]*$"


class CreateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fields": {
                        "FirstName": "Ana",
                        "LastName": "Lima",
                        "Email": "ana@example.com",
                        "Phone": "+60123456789",
                    }
                }
            ]
        },
    )

    fields: dict[FieldName, FieldValue] = Field(
        min_length=1,
        max_length=MAX_FIELDS_PER_CREATE,
        description="Createable fields of the object by API name, email and phone included.",
        json_schema_extra=as_field_map,
    )

    allow_duplicates: AllowDuplicates = False


class RecordOwner(BaseModel):
    id: str = Field(examples=["0055g000000GR44AAG"])
    name: str | None = Field(
        examples=["Priya Nair"], description="The user's name (null for a queue)."
    )


class CreatedRecord(ContactView):
    owner: RecordOwner | None = Field(
        default=None,
        description="Leads: the owner Salesforce gave the new Lead (the org's active "
        "assignment rule may give it to another user), read back from Salesforce. Null for "
        "Contacts.",
    )


def _requiring(*names: str, **example: str) -> Any:
    def add(schema: dict[str, Any]) -> None:
        schema["properties"]["fields"]["required"] = list(names)
        schema["examples"] = [{"fields": {"FirstName": "Ana", **example, "Email": ANA}}]

    return add


ANA = "ana@example.com"


# The bodies of `create_contact` and `create_lead` as the document shows them: the fields
# every org requires (the describe may require more: 422 naming them).
class ContactCreateRequest(CreateRequest):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_requiring("LastName", LastName="Lima")
    )


class LeadCreateRequest(CreateRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_requiring("LastName", "Company", LastName="Lima", Company="Acme"),
    )


class CaseRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contact_id": "0035g0000006SevAAE",
                    "fields": {
                        "Subject": "Order 4471 arrived damaged",
                        "Description": "Customer sent photos over WhatsApp.",
                        "Origin": "WhatsApp",
                        "Priority": "High",
                    },
                }
            ]
        },
    )

    contact_id: StrictStr = Field(
        min_length=15,
        max_length=18,
        pattern=r"^003[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$",
        description="The Contact the Case is for (`003...`); Salesforce files it under the "
        "Contact's Account too.",
    )
    fields: dict[FieldName, FieldValue] = Field(
        min_length=1,
        max_length=MAX_FIELDS_PER_CREATE,
        description="Createable Case fields by API name (Subject, Description, Origin, "
        "Priority...); not ContactId or AccountId.",
        json_schema_extra=as_field_map,
    )
    allow_duplicates: AllowDuplicates = False


# The answer of a Case create: the new Case with the fields the lookup shows of Cases
# (`related.cases.fields`), as Salesforce holds them after the create.
CaseView = RecordView


def replayed_view(sobject: str, response: dict[str, Any]) -> CreatedRecord | CaseView:
    """The first answer of an idempotency key, as it was stored."""
    if sobject == "Case":
        return CaseView.model_validate(response)
    return CreatedRecord.model_validate(response)


class ActivityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: StrictStr = Field(
        min_length=15,
        max_length=18,
        pattern=RECORD_ID_PATTERN,
        description="The Contact (`003...`) or Lead (`00Q...`) the conversation was with. "
        "An 18-character id's last three characters must be its case checksum (else 422).",
        examples=["0035g0000006SevAAE"],
        json_schema_extra={"x-salesforce-id-checksum": True},
    )
    subject: StrictStr = Field(
        min_length=1, max_length=255, pattern=NO_NUL, examples=["WhatsApp conversation"]
    )
    description: StrictStr = Field(
        default="",
        max_length=MAX_DESCRIPTION_LENGTH,
        pattern=NO_NUL,
        description=f"The transcript. Past {DESCRIPTION_LIMIT:,} characters it is cut, with a "
        "visible marker.",
    )
    occurred_at: AwareDatetime = Field(
        description="When the conversation happened; its date (UTC) is the Task's date."
    )
    external_id: StrictStr = Field(
        min_length=1,
        max_length=255,
        pattern=NO_NUL,
        description="Your id of this conversation: the same id again answers the same Task.",
        examples=["conversation-8812/closing-3"],
    )

    @field_validator("occurred_at")
    @classmethod
    def _has_a_utc_date(cls, value: datetime) -> datetime:
        # 0001-01-01T00:00:00+14:00 is a valid timestamp whose UTC moment is before year 1.
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("the moment in UTC is outside the years 1 to 9999") from None
        return value


class ActivityOut(BaseModel):
    task_id: str = Field(examples=["00T5g000004ZqPXEA0"])
    url: str = Field(description="The Task's Lightning record page.")
    created: bool = Field(description="False when the `external_id` was logged before.")


class LoggedActivityOut(BaseModel):
    task_id: str
    url: str
    record_id: str
    subject: str
    occurred_at: datetime
    external_id: str
    logged_by: str
    logged_at: datetime
