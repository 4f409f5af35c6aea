"""The Contact as lookups and edits show it: which fields a workspace selects and shows
(the plan), the `contact` object of an answer (docs/api.md, "Contact lookup"), and the edits
of a contact that can still be reverted.

Lookups and edits both answer with this object, so it is built here, once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import and_, select

from app.db import Database
from app.models import ContactFieldEdit, EditStatus
from app.salesforce.values import parse_datetime
from app.workspace.context import WorkspaceContext
from app.workspace.describes import ContactDescribe, ContactField, SObject
from app.workspace.person_accounts import account_field, is_person

# Always selected: the winner needs an id and a date, and picking needs the identifiers
# (those the connected user can see: field-level security may hide any but Id).
BASE_FIELDS = ("Id", "LastModifiedDate", "Email", "Phone", "MobilePhone")
# The fields a lookup matches on; each one the describe hides is a settings warning.
MATCH_FIELDS = ("Email", "Phone", "MobilePhone")


# A field's value as Salesforce answers it: text (dates and picklists too), a number, a
# boolean, or null.
FieldValueOut = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]


class ContactFieldValue(BaseModel):
    name: str = Field(examples=["Title"])
    label: str = Field(examples=["Title"])
    type: str = Field(examples=["string"])
    value: FieldValueOut = Field(examples=["CTO"])
    editable: bool = Field(
        description="True only while editing is enabled and the field is editable."
    )
    revertible: bool


class ContactView(BaseModel):
    id: str = Field(examples=["003xx000004TmiQAAS"])
    url: str = Field(description="The record's Lightning page (View in Salesforce).")
    last_modified_at: datetime | None
    fields: list[ContactFieldValue] = Field(description="In the order of `visible_fields`.")
    person_account: bool = Field(
        default=False,
        exclude_if=lambda value: not value,
        description="Present (true) only for a person account's Contact, in an org with "
        "Person Accounts: `url` opens the Account, edits are written to it.",
    )


def field_value(
    f: ContactField, record: dict[str, Any], *, editable: bool, revertible: bool
) -> ContactFieldValue:
    """One field of a record as answers show it (the value as Salesforce answered it)."""
    return ContactFieldValue(
        name=f.name,
        label=f.label,
        type=f.type,
        value=record.get(f.name),
        editable=editable,
        revertible=revertible,
    )


class RecordView(BaseModel):
    """A record shown read-only beside the Contact (its Account, Opportunities, Cases)."""

    id: str = Field(examples=["5005g00000AbCdEAAV"])
    url: str = Field(description="The record's Lightning page.")
    fields: list[ContactFieldValue] = Field(description="In the order of the settings.")


def record_view(
    instance_url: str | None,
    sobject: str,
    fields: Iterable[ContactField],
    record: dict[str, Any],
) -> RecordView:
    """`record` (with its `Id`) as a read-only RecordView of the given fields."""
    record_id = str(record["Id"])
    return RecordView(
        id=record_id,
        url=f"{instance_url}/lightning/r/{sobject}/{record_id}/view",
        fields=[field_value(f, record, editable=False, revertible=False) for f in fields],
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """What to select and show for one workspace's settings and describe."""

    fields: tuple[ContactField, ...]
    selected: tuple[str, ...]
    variant: str


def selected_fields(visible: Iterable[str], base: Iterable[str] = BASE_FIELDS) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in (*visible, *base):
        seen.setdefault(name, None)
    return tuple(seen)


@lru_cache(maxsize=4096)
def variant(selected: tuple[str, ...], phone_matching: str) -> str:
    """A short fingerprint of what a cached answer was computed with."""
    raw = phone_matching + ":" + ",".join(selected)
    return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


def visible_fields(context: WorkspaceContext, sobject: SObject) -> tuple[str, ...]:
    settings = context.settings
    return settings.visible_fields if sobject == "Contact" else settings.leads.visible_fields


def contact_extras(context: WorkspaceContext, describe: ContactDescribe) -> tuple[str, ...]:
    """Contact fields selected though not shown: `IsPersonAccount` where the org has Person
    Accounts, and `AccountId` for them and for the related Account and Opportunities
    (docs/whole-customer.md). Only fields the describe shows."""
    person = describe.field("IsPersonAccount") is not None
    related = context.settings.related
    wanted = ["IsPersonAccount"] if person else []
    if person or related.account.enabled or related.opportunities.enabled:
        wanted.append("AccountId")
    return tuple(n for n in wanted if describe.field(n) is not None)


def plan_for(
    context: WorkspaceContext, describe: ContactDescribe, sobject: SObject = "Contact"
) -> Plan:
    # Field names come only from the describe; a visible field since removed in Salesforce is
    # skipped rather than breaking every lookup.
    fields = tuple(
        f for f in (describe.field(n) for n in visible_fields(context, sobject)) if f is not None
    )
    # A field the connected user's describe does not show is never queried (10.3).
    base = [n for n in BASE_FIELDS if n == "Id" or describe.field(n) is not None]
    extras = contact_extras(context, describe) if sobject == "Contact" else ()
    selected = selected_fields((*(f.name for f in fields), *extras), base)
    return Plan(fields, selected, variant(selected, context.settings.phone_matching))


def render_contact(
    context: WorkspaceContext,
    fields: Iterable[ContactField],
    record: dict[str, Any],
    revertible: frozenset[str] = frozenset(),
    sobject: SObject = "Contact",
) -> ContactView:
    """The `contact` (or `lead`) object for a record (values as Salesforce answered them).
    A person account's Contact opens its Account (docs/whole-customer.md)."""
    editing = context.settings.editing_enabled
    contact_id = str(record["Id"])
    person = is_person(record)
    page = f"Account/{record['AccountId']}" if person else f"{sobject}/{contact_id}"
    return ContactView(
        id=contact_id,
        url=f"{context.instance_url}/lightning/r/{page}/view",
        person_account=person,
        last_modified_at=parse_datetime(record.get("LastModifiedDate")),
        fields=[
            field_value(
                f,
                record,
                editable=editing and f.editable and (not person or bool(account_field(f.name))),
                revertible=editing and f.editable and f.name in revertible,
            )
            for f in fields
        ],
    )


def hidden_match_fields(describe: ContactDescribe) -> list[str]:
    """The match fields the connected user's describe does not show (field-level security)."""
    return [name for name in MATCH_FIELDS if describe.field(name) is None]


@dataclass(frozen=True, slots=True)
class ContactRef:
    """Whose record: the workspace, the org it is connected to, the 18-character id and the
    object (a Contact, or a Lead)."""

    workspace_id: str
    organization_id: str
    contact_id: str  # the record's id, a Contact's or a Lead's
    sobject: SObject = "Contact"


def of_contact(ref: ContactRef) -> Any:
    """The SQL condition for the edits of this contact (never another workspace's or org's)."""
    return and_(
        ContactFieldEdit.workspace_id == ref.workspace_id,
        ContactFieldEdit.organization_id == ref.organization_id,
        ContactFieldEdit.contact_id == ref.contact_id,
        ContactFieldEdit.object == ref.sobject,
    )


async def revertible_fields(db: Database, ref: ContactRef) -> frozenset[str]:
    """Fields of the contact with an applied edit that no revert has undone."""
    async with db.transaction() as session:
        names = await session.scalars(
            select(ContactFieldEdit.field)
            .where(
                of_contact(ref),
                ContactFieldEdit.status == EditStatus.APPLIED,
                ContactFieldEdit.reverted_at.is_(None),
            )
            .distinct()
        )
        return frozenset(names)
