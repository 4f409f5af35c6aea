"""What a batch of change events does, in one transaction with its replay id:

- a Contact `CREATE` (or `GAP_CREATE`, read back) → auto-create's intake (`hooks.created`),
  the same rows as Outbound Messages and reconciliation, so each Contact is created once;
- `UPDATE`, `DELETE`, `UNDELETE` and Contact gap events → every replica drops the record's
  cached lookup answers, and the answers cached for the record's new (or restored) email and
  phones (a cached miss above all), through `NOTIFY` (app.workspace.stream_state), delivered
  at commit;
- Lead gap events → every answer of the org dropped (they carry no field values);
- `GAP_OVERFLOW` → a reconciliation run (`hooks.resync`) and every answer of the org dropped;
- events of a schema id other than the one before them (the subscriber tells, `describes`):
  the entity's fields changed, so every API process forgets the org's describes;
- changes the service made itself (`changeOrigin` names SALESFORCE_CLIENT_NAME) cost
  nothing: the write already updated the caches.

The replay id is written only while this worker holds the org (`owner = me`); otherwise the
whole transaction rolls back (LeaseLost) and the new holder processes the batch instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.salesforce.pubsub.events import ChangeEvent
from app.workspace.identifiers import cache_identifiers
from app.workspace.stream_state import payloads, send

CONTACT_TOPIC, LEAD_TOPIC = "/data/ContactChangeEvent", "/data/LeadChangeEvent"
REPLAY_COLUMN = {CONTACT_TOPIC: "contact_replay_id", LEAD_TOPIC: "lead_replay_id"}
IDENTIFIER_FIELDS = ("Email", "Phone", "MobilePhone")
GAPS = {"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE"}


class LeaseLost(Exception):
    """Another worker holds the org now: stop, write nothing."""


class StreamHooks(Protocol):
    """What auto-create does with the stream (wired by the worker)."""

    async def created(
        self, session: AsyncSession, organization_id: str, records: list[dict[str, Any]]
    ) -> None: ...

    async def resync(self, session: AsyncSession, organization_id: str) -> None: ...


# Reads back Contacts by id (gap events): REST records with auto-create's fields.
ReadBack = Callable[[list[str]], Awaitable[list[dict[str, Any]]]]


def record_of(event: ChangeEvent) -> dict[str, Any]:
    """A CREATE's body as the REST API would show the record (auto-create's field names)."""
    body = dict(event.body)
    name = body.pop("Name", None) or {}
    record: dict[str, Any] = {k: v for k, v in body.items() if v is not None}
    for part in ("Salutation", "FirstName", "LastName"):
        if name.get(part) is not None:
            record[part] = name[part]
    created = body.get("CreatedDate")
    if isinstance(created, int):
        record["CreatedDate"] = datetime.fromtimestamp(created / 1000, UTC).isoformat()
    record["Id"] = event.record_ids[0] if event.record_ids else ""
    return record


@dataclass
class Effects:
    """What one batch does; filled by `plan`, applied by `apply`."""

    created: list[dict[str, Any]] = field(default_factory=list)
    record_ids: set[str] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)
    purge: bool = False
    resync: bool = False
    gap_creates: list[str] = field(default_factory=list)  # GAP_CREATE ids: auto-create them
    read_back_ids: list[str] = field(default_factory=list)  # Contacts of gap events
    own: int = 0
    describes: bool = False  # a new schema id: the entity's fields changed


def plan(events: list[ChangeEvent], own_client: str, default_region: str) -> Effects:
    effects = Effects()
    for event in events:
        change = event.change_type
        if change == "GAP_OVERFLOW":
            effects.resync = effects.purge = True
            continue
        if change == "UPDATE" and event.client == own_client:
            effects.own += 1  # our own edit: the caches already follow it
            continue
        if change == "CREATE" and event.entity == "Contact":
            effects.created.append(record_of(event))
        if change in GAPS and event.entity == "Contact":
            effects.read_back_ids.extend(event.record_ids)
            if change == "GAP_CREATE":
                effects.gap_creates.extend(event.record_ids)
        if change in GAPS and event.entity != "Contact":
            effects.purge = True  # no field values to tell which answers it changes
        effects.record_ids.update(event.record_ids)
        # A restored record's event carries all its fields, like a create's: the cached
        # misses of its email and phones are dropped, as for a new record.
        if change in ("CREATE", "UPDATE", "UNDELETE") and event.client != own_client:
            emails = [str(event.body[n]) for n in ("Email",) if event.body.get(n)]
            phones = [str(event.body[n]) for n in ("Phone", "MobilePhone") if event.body.get(n)]
            effects.identifiers |= cache_identifiers(emails, phones, default_region)
    return effects


async def apply(
    db: Database,
    *,
    organization_id: str,
    worker_id: str,
    topic: str,
    replay_id: bytes,
    count: int,
    effects: Effects,
    read_back: list[dict[str, Any]],
    hooks: StreamHooks,
    default_region: str,
) -> None:
    """The batch's effects, its replay id and its notifications in one transaction."""
    for record in read_back:
        phones = [str(record[n]) for n in ("Phone", "MobilePhone") if record.get(n)]
        emails = [str(record["Email"])] if record.get("Email") else []
        effects.identifiers |= cache_identifiers(emails, phones, default_region)
    async with db.transaction() as session:
        column = REPLAY_COLUMN[topic]
        stored = await session.execute(
            text(
                f"UPDATE change_streams SET {column} = :replay, "  # noqa: S608 - a known column
                "last_event_at = CASE WHEN :count > 0 THEN now() ELSE last_event_at END, "
                "events = events + :count, updated_at = now() "
                "WHERE organization_id = :org AND owner = :me AND lease_until > now() "
                "RETURNING organization_id"
            ),
            {"replay": replay_id, "count": count, "org": organization_id, "me": worker_id},
        )
        if stored.first() is None:
            raise LeaseLost(organization_id)
        gap_created = {i[:15] for i in effects.gap_creates}
        created = effects.created + [
            r for r in read_back if str(r.get("Id", ""))[:15] in gap_created
        ]
        if created:
            await hooks.created(session, organization_id, created)
        if effects.resync:
            await hooks.resync(session, organization_id)
        if effects.record_ids or effects.identifiers or effects.purge or effects.describes:
            await notify(
                session,
                organization_id,
                record_ids=sorted(effects.record_ids),
                identifiers=sorted(effects.identifiers),
                purge=effects.purge,
                describes=effects.describes,
            )


async def notify(
    session: AsyncSession,
    organization_id: str,
    *,
    record_ids: Sequence[str] = (),
    identifiers: Sequence[str] = (),
    purge: bool = False,
    health: bool = False,
    describes: bool = False,
) -> None:
    """NOTIFY every API process (delivered when the transaction commits)."""
    workspaces = [
        str(r[0])
        for r in await session.execute(
            text(
                "SELECT workspace_id FROM salesforce_connections "
                "WHERE organization_id = :org ORDER BY workspace_id"
            ),
            {"org": organization_id},
        )
    ]
    if not workspaces and not health:
        return
    await send(
        session,
        payloads(
            organization_id,
            workspaces,
            record_ids,
            identifiers,
            purge=purge,
            health=health,
            describes=describes,
        ),
    )
