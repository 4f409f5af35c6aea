"""Both sources (Outbound Messages and reconciliation) end here: one row per workspace and
Salesforce Contact in `autocreate_contacts`, and one queue job per new row, written in the
same transaction so a stored contact always has a job and a job always has its row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pgqueuer import Queries
from pgqueuer.db import AsyncpgDriver
from sqlalchemy import func, literal_column, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AutocreateContact, AutocreateWorkspace
from app.salesforce.values import parse_datetime

ENTRYPOINT = "autocreate.contact"
# The Contact fields auto-create reads, from the REST API and in Outbound Messages alike.
BASE_FIELDS = ["Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone"]
AUDIT_FIELDS = ["CreatedDate", "CreatedById"]  # for the bulk-import rule
SOURCES = ("webhook", "reconcile")
_INSERT_CHUNK = 500  # rows per INSERT, well under PostgreSQL's 32767 bind parameters
_DATA_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile_phone",
    "language",
    "sf_created_at",
    "sf_created_by_id",
)


@dataclass(frozen=True, slots=True)
class ContactSeen:
    """The fields of a new Salesforce Contact that auto-create needs."""

    salesforce_contact_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile_phone: str | None = None
    language: str | None = None
    created_at: datetime | None = None
    created_by_id: str | None = None

    @classmethod
    def from_fields(
        cls, fields: Mapping[str, Any], *, language_field: str | None = None
    ) -> ContactSeen:
        """From a REST record or an Outbound Message sObject (same field names)."""
        return cls(
            salesforce_contact_id=str(fields["Id"]),
            first_name=_clean(fields.get("FirstName"), 255),
            last_name=_clean(fields.get("LastName"), 255),
            email=_clean(fields.get("Email"), 320),
            phone=_clean(fields.get("Phone"), 64),
            mobile_phone=_clean(fields.get("MobilePhone"), 64),
            language=_clean(fields.get(language_field), 64) if language_field else None,
            created_at=parse_datetime(fields.get("CreatedDate")),
            created_by_id=_clean(fields.get("CreatedById"), 18),
        )


def whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


async def store_contacts(
    session: AsyncSession,
    *,
    workspace_id: str,
    organization_id: str,
    source: str,
    contacts: Sequence[ContactSeen],
    settle: timedelta,
) -> list[int]:
    """Insert the contacts not seen before and queue a job for each; return their row ids.

    A contact already pending gets the newer data (Salesforce sends the latest state);
    a settled one is left alone. Jobs become due after `settle`, so a bulk import can be
    seen whole before any of its contacts is judged.
    """
    assert source in SOURCES
    new_ids: list[int] = []
    unique = {c.salesforce_contact_id: c for c in contacts}
    rows = [_row(workspace_id, organization_id, source, c, settle) for c in unique.values()]
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        insert_rows = insert(AutocreateContact).values(chunk)
        excluded = insert_rows.excluded
        statement: Any = insert_rows.on_conflict_do_update(
            index_elements=["workspace_id", "salesforce_contact_id"],
            set_={
                name: func.coalesce(getattr(excluded, name), getattr(AutocreateContact, name))
                for name in _DATA_COLUMNS
            },
            where=AutocreateContact.status == "pending",
        ).returning(AutocreateContact.id, literal_column("(xmax = 0)").label("inserted"))
        result = await session.execute(statement)
        new_ids.extend(row.id for row in result if row.inserted)
    if new_ids:
        await enqueue(session, new_ids, settle)
    if new_ids and source == "webhook":
        # Something new: reconciliation returns to its configured interval (see reconcile).
        await session.execute(
            update(AutocreateWorkspace)
            .where(
                AutocreateWorkspace.workspace_id == workspace_id,
                AutocreateWorkspace.idle_streak > 0,
            )
            .values(idle_streak=0)
        )
    return new_ids


async def enqueue(session: AsyncSession, row_ids: Iterable[int], delay: timedelta) -> None:
    """Queue one job per row inside the session's transaction (PgQueuer's own SQL over the
    same connection). The dedupe key keeps a row from having two live jobs."""
    ids = list(row_ids)
    if not ids:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    queries = Queries(AsyncpgDriver(raw.driver_connection))  # type: ignore[arg-type]
    await queries.enqueue(
        [ENTRYPOINT] * len(ids),
        [str(row_id).encode() for row_id in ids],
        [0] * len(ids),
        [delay] * len(ids),
        [dedupe_key(row_id) for row_id in ids],
        on_conflict="skip",
    )


def dedupe_key(row_id: int) -> str:
    return f"autocreate:{row_id}"


def _row(
    workspace_id: str,
    organization_id: str,
    source: str,
    contact: ContactSeen,
    settle: timedelta,
) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "salesforce_contact_id": contact.salesforce_contact_id,
        "organization_id": organization_id,
        "source": source,
        "status": "pending",
        "attempts": 0,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "mobile_phone": contact.mobile_phone,
        "language": contact.language,
        "sf_created_at": whole_second(contact.created_at) if contact.created_at else None,
        "sf_created_by_id": contact.created_by_id,
        "next_attempt_at": datetime.now(UTC) + settle,
    }


def _clean(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None
