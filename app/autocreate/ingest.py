"""Both sources (Outbound Messages and reconciliation) end here: one row per workspace and
Salesforce Contact in `autocreate_contacts`, and one queue job per new row, written in the
same transaction so a stored contact always has a job and a job always has its row."""

from __future__ import annotations

import re
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
SOURCES = ("webhook", "reconcile", "stream")
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


# What PostgreSQL cannot hold in text: NUL, and lone surrogates (they have no UTF-8 form; a
# JSON answer may carry either as a \u escape).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
INVALID_CHARACTERS = "invalid_characters"


@dataclass(frozen=True, slots=True)
class Skip:
    """A Contact recorded as skipped at intake (no job): the id, the reason, and the detail."""

    salesforce_contact_id: str
    reason: str
    error: str | None = None
    created_at: datetime | None = None
    created_by_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContactSeen:
    """The fields of a new Salesforce Contact that auto-create needs.

    `unstorable` names the fields that held characters PostgreSQL cannot store (they are
    removed from the values here); such a Contact is recorded as skipped, never stored."""

    salesforce_contact_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile_phone: str | None = None
    language: str | None = None
    created_at: datetime | None = None
    created_by_id: str | None = None
    unstorable: tuple[str, ...] = ()

    @classmethod
    def from_fields(
        cls, fields: Mapping[str, Any], *, language_field: str | None = None
    ) -> ContactSeen:
        """From a REST record (same field names as an Outbound Message's sObject)."""
        unstorable: list[str] = []

        def text(name: str | None, limit: int) -> str | None:
            value = fields.get(name) if name else None
            if value is None:
                return None
            raw = str(value)
            if _UNSTORABLE.search(raw):
                unstorable.append(str(name))
                raw = _UNSTORABLE.sub("", raw)
            return _clean(raw, limit)

        return cls(
            salesforce_contact_id=_UNSTORABLE.sub("", str(fields["Id"])),
            first_name=text("FirstName", 255),
            last_name=text("LastName", 255),
            email=text("Email", 320),
            phone=text("Phone", 64),
            mobile_phone=text("MobilePhone", 64),
            language=text(language_field, 64),
            created_at=parse_datetime(fields.get("CreatedDate")),
            created_by_id=text("CreatedById", 18),
            unstorable=tuple(unstorable),
        )

    def as_skip(self) -> Skip:
        """This Contact recorded as skipped for its unstorable characters, without its data."""
        return Skip(
            self.salesforce_contact_id,
            INVALID_CHARACTERS,
            f"{', '.join(self.unstorable)}: contains a NUL character (U+0000) or an unpaired "
            "surrogate, which cannot be stored; fix the Contact in Salesforce",
            self.created_at,
            self.created_by_id,
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
    seen whole before any of its contacts is judged. A contact with unstorable characters
    is recorded as skipped instead (one bad record never fails the others).
    """
    assert source in SOURCES
    new_ids: list[int] = []
    unique = {c.salesforce_contact_id: c for c in contacts if not c.unstorable}
    await skip_contacts(
        session,
        workspace_id=workspace_id,
        organization_id=organization_id,
        source=source,
        skips=[c.as_skip() for c in contacts if c.unstorable],
    )
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


async def skip_contacts(
    session: AsyncSession,
    *,
    workspace_id: str,
    organization_id: str,
    source: str,
    skips: Sequence[Skip],
) -> None:
    """Record Contacts that will not be created (no job, no personal data). A Contact that
    already has a row keeps it."""
    unique = {s.salesforce_contact_id: s for s in skips}
    if not unique:
        return
    now = datetime.now(UTC)
    values = [
        {
            "workspace_id": workspace_id,
            "salesforce_contact_id": skip.salesforce_contact_id,
            "organization_id": organization_id,
            "source": source,
            "status": "skipped",
            "reason": skip.reason,
            "last_error": skip.error,
            "attempts": 0,
            "sf_created_at": whole_second(skip.created_at) if skip.created_at else None,
            "sf_created_by_id": skip.created_by_id,
            "next_attempt_at": now,
            "completed_at": now,
        }
        for skip in unique.values()
    ]
    for start in range(0, len(values), _INSERT_CHUNK):
        await session.execute(
            insert(AutocreateContact)
            .values(values[start : start + _INSERT_CHUNK])
            .on_conflict_do_nothing(index_elements=["workspace_id", "salesforce_contact_id"])
        )


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
