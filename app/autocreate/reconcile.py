"""Periodic reconciliation: Contacts created since a persisted watermark, queried from
Salesforce, fed into the same pipeline as Outbound Messages.

Once per interval across all replicas: each tick claims the workspaces that are due with one
`UPDATE ... SET next_reconcile_at = now() + interval WHERE next_reconcile_at <= now()`;
the row lock makes a second replica's identical UPDATE skip a workspace another replica has
just claimed. No lock is held across the Salesforce calls.

Sparing the org's API allocation (app.workspace.budget): a workspace where nothing new
appears is reconciled less and less often (interval x 2, x 4, ... up to
AUTOCREATE_RECONCILE_MAX_BACKOFF), and at the interval again as soon as a reconciliation or
an Outbound Message brings something new; while the org is above
SALESFORCE_API_BACKGROUND_MAX_USAGE reconciliation makes no call and says why in the
auto-create status (`paused_reason`).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text, update

from app.autocreate.ingest import (
    AUDIT_FIELDS,
    BASE_FIELDS,
    ContactSeen,
    dedupe_key,
    enqueue,
    store_contacts,
    whole_second,
)
from app.autocreate.outcomes import enabled_since
from app.autocreate.readback import readable
from app.config import Settings
from app.db import Database
from app.models import (
    AutocreateNotification,
    AutocreateWorkspace,
    Connection,
    ConnectionStatus,
    WorkspaceSettings,
)
from app.salesforce.client import SalesforceClient
from app.salesforce.errors import NotConnected, ReauthorizationRequired, SalesforceError
from app.workspace.budget import ApiBudget
from app.workspace.context import ContextChanged
from app.workspace.describes import DescribeCache
from app.workspace.stream_state import streaming_since

logger = logging.getLogger("app.autocreate.reconcile")

NOTIFICATION_RETENTION = timedelta(days=3)  # Salesforce stops retrying after 24 h
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal (unquoted, UTC, whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def contacts_created_since_soql(
    fields: list[str], since: datetime, limit: int, after: tuple[datetime, str] | None = None
) -> str:
    """Keyset-paged: (CreatedDate, Id) ordering, so a bulk import sharing one CreatedDate
    second is still walked in bounded pages. Salesforce stores CreatedDate in whole seconds,
    which is what makes the whole-second literal exact."""
    for name in fields:
        if not _API_NAME.fullmatch(name):
            raise ValueError(f"not a Salesforce API name: {name!r}")
    if after is None:
        where = f"CreatedDate >= {soql_datetime(since)}"
    else:
        created, last_id = after
        if not _SALESFORCE_ID.fullmatch(last_id):
            raise ValueError("not a Salesforce id")
        stamp = soql_datetime(created)
        where = f"(CreatedDate > {stamp} OR (CreatedDate = {stamp} AND Id > '{last_id}'))"
    # SOQL, not SQL: every part above is a checked API name, a checked id or a datetime.
    return (
        f"SELECT {', '.join(fields)} FROM Contact WHERE {where} "  # noqa: S608
        f"ORDER BY CreatedDate ASC, Id ASC LIMIT {int(limit)}"
    )


@dataclass(eq=False, repr=False)
class Reconciler:
    db: Database
    salesforce: SalesforceClient
    settings: Settings
    _: KW_ONLY
    budget: ApiBudget
    describes: DescribeCache

    async def tick(self) -> int:
        """Reconcile every due workspace; re-queue orphaned rows; purge old notification
        ids. Returns the number of workspaces reconciled by this replica."""
        due = await self.claim_due_workspaces()
        for workspace_id in due:
            await self.reconcile(workspace_id)
        await self.requeue_orphans()
        await self.purge_notifications()
        return len(due)

    async def claim_due_workspaces(self) -> list[str]:
        interval = timedelta(seconds=self.settings.autocreate_reconcile_interval_seconds)
        async with self.db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO autocreate_workspaces (workspace_id) "
                    "SELECT s.workspace_id FROM workspace_settings s "
                    "JOIN salesforce_connections c ON c.workspace_id = s.workspace_id "
                    "WHERE s.auto_create_enabled AND c.status = :connected "
                    "ON CONFLICT (workspace_id) DO NOTHING"
                ),
                {"connected": ConnectionStatus.CONNECTED.value},
            )
        async with self.db.transaction() as session:
            enabled = (
                select(WorkspaceSettings.workspace_id)
                .join(Connection, Connection.workspace_id == WorkspaceSettings.workspace_id)
                .where(
                    WorkspaceSettings.auto_create_enabled,
                    Connection.status == ConnectionStatus.CONNECTED.value,
                )
            )
            claimed = await session.scalars(
                update(AutocreateWorkspace)
                .where(
                    AutocreateWorkspace.workspace_id.in_(enabled),
                    (AutocreateWorkspace.next_reconcile_at.is_(None))
                    | (AutocreateWorkspace.next_reconcile_at <= func.now())
                    # backed off (at least twice the interval ahead), and an Outbound Message
                    # has brought something new since. Not "more than one interval ahead": a
                    # replica whose transaction began a moment before another's claim would
                    # see that claim's `now() + interval` as ahead of its own and take it too.
                    | (
                        (AutocreateWorkspace.idle_streak == 0)
                        & (AutocreateWorkspace.next_reconcile_at > func.now() + interval * 1.5)
                    ),
                )
                .values(next_reconcile_at=func.now() + interval)
                .returning(AutocreateWorkspace.workspace_id)
            )
            return list(claimed)

    async def reconcile(self, workspace_id: str) -> int:
        """Query Contacts created since the watermark (minus the overlap) and store them.
        Returns how many new contacts were queued."""
        settings = self.settings
        started = time.monotonic()
        async with self.db.transaction() as session:
            ws = await session.get(WorkspaceSettings, workspace_id)
            state = await session.get(AutocreateWorkspace, workspace_id)
            connection = await session.scalar(
                select(Connection).where(Connection.workspace_id == workspace_id)
            )
        if ws is None or not ws.auto_create_enabled or connection is None:
            return 0
        floor = enabled_since(ws)
        assert floor is not None
        since = floor
        if state is not None and state.watermark is not None:
            since = max(
                floor,
                state.watermark - timedelta(seconds=settings.autocreate_reconcile_overlap_seconds),
            )
        queued = 0
        if await self._streamed(state, connection.organization_id):
            await self._reschedule(workspace_id, 0)
            return 0
        if await self._paused(workspace_id, connection.organization_id):
            return 0
        try:
            fields, language_field = await self._fields(workspace_id, connection.id)
            after: tuple[datetime, str] | None = None
            for page in range(settings.autocreate_reconcile_max_pages):
                if page and await self._paused(workspace_id, connection.organization_id):
                    return queued
                soql = contacts_created_since_soql(
                    fields, since, settings.autocreate_reconcile_page_size, after
                )
                records = await self.salesforce.query(workspace_id, soql, purpose="autocreate")
                seen = [ContactSeen.from_fields(r, language_field=language_field) for r in records]
                fresh = [c for c in seen if c.created_at is None or c.created_at >= floor]
                queued += await self._store_page(workspace_id, connection.organization_id, fresh)
                if len(records) < settings.autocreate_reconcile_page_size or not seen:
                    break
                last = seen[-1]
                if last.created_at is None:
                    break
                page_end = (last.created_at, last.salesforce_contact_id)
                if page_end == after:
                    break  # no progress: never re-read the same page
                after = page_end
        except (NotConnected, ReauthorizationRequired, ContextChanged) as exc:
            await self._record_error(workspace_id, f"salesforce: {type(exc).__name__}")
            return queued
        except SalesforceError as exc:
            await self._record_error(workspace_id, f"salesforce {exc.error_code}: {exc.message}")
            logger.warning(
                "autocreate.reconcile.failed",
                extra={"workspace_id": workspace_id, "error_code": exc.error_code},
            )
            return queued
        except Exception as exc:  # noqa: BLE001 - say so in the status, keep other workspaces going
            await self._record_error(workspace_id, f"unexpected error: {type(exc).__name__}")
            logger.exception(
                "autocreate.reconcile.failed",
                extra={"workspace_id": workspace_id, "error": type(exc).__name__},
            )
            return queued
        await self._reschedule(workspace_id, queued)
        logger.info(
            "autocreate.reconcile.done",
            extra={
                "workspace_id": workspace_id,
                "queued": queued,
                "since": since.isoformat(),
                "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return queued

    async def _store_page(
        self, workspace_id: str, organization_id: str, contacts: list[ContactSeen]
    ) -> int:
        stamps = [c.created_at for c in contacts if c.created_at is not None]
        async with self.db.transaction() as session:
            new_ids = await store_contacts(
                session,
                workspace_id=workspace_id,
                organization_id=organization_id,
                source="reconcile",
                contacts=contacts,
                settle=timedelta(seconds=self.settings.autocreate_bulk_settle_seconds),
            )
            if stamps:
                newest = whole_second(max(stamps))
                await session.execute(
                    update(AutocreateWorkspace)
                    .where(AutocreateWorkspace.workspace_id == workspace_id)
                    .values(
                        watermark=func.greatest(
                            func.coalesce(AutocreateWorkspace.watermark, newest), newest
                        )
                    )
                )
        return len(new_ids)

    async def _streamed(self, state: AutocreateWorkspace | None, organization_id: str) -> bool:
        """The org's change stream brings every new Contact (app/stream) and has done so
        since before this workspace's last reconciliation: no query needed. A stream that
        broke or lost events (expired replay id, overflow) asks for a run itself."""
        if not self.settings.change_stream_enabled or state is None:
            return False
        since = await streaming_since(self.db, organization_id)
        last = state.last_reconciled_at
        return since is not None and last is not None and since <= last

    async def _paused(self, workspace_id: str, organization_id: str) -> bool:
        """Is the org above the background threshold? Records the reason (or its end)."""
        reason = await self.budget.pause_reason(organization_id)
        async with self.db.transaction() as session:
            await session.execute(
                update(AutocreateWorkspace)
                .where(
                    AutocreateWorkspace.workspace_id == workspace_id,
                    AutocreateWorkspace.paused_reason.is_distinct_from(reason),
                )
                .values(paused_reason=reason)
            )
        if reason is not None:
            logger.info("autocreate.reconcile.paused", extra={"workspace_id": workspace_id})
        return reason is not None

    async def _reschedule(self, workspace_id: str, queued: int) -> None:
        """Nothing new: wait twice as long next time (up to the maximum back-off);
        something new: back to the configured interval."""
        interval = timedelta(seconds=self.settings.autocreate_reconcile_interval_seconds)
        ceiling = max(1, self.settings.autocreate_reconcile_max_backoff)
        async with self.db.transaction() as session:
            state = await session.get(AutocreateWorkspace, workspace_id, with_for_update=True)
            if state is None:
                return
            state.last_reconciled_at = func.now()  # type: ignore[assignment]
            if queued:
                state.idle_streak = 0
                return
            state.idle_streak = min((state.idle_streak or 0) + 1, 30)
            factor = min(2**state.idle_streak, ceiling)
            state.next_reconcile_at = func.now() + interval * factor  # type: ignore[assignment]

    async def _fields(
        self, workspace_id: str, connection_id: uuid.UUID
    ) -> tuple[list[str], str | None]:
        """The Contact fields to read, those the connected user's describe shows (the shared
        describe), and the configured language field when the org's Contact has it."""
        configured = self.settings.autocreate_language_field.strip()
        describe = await self.describes.get_for(workspace_id, connection_id)
        language = configured if configured and describe.field(configured) is not None else None
        names = {f.name for f in describe.fields}
        fields = readable(BASE_FIELDS + ([language] if language else []) + AUDIT_FIELDS, names)
        return fields, language

    async def _record_error(self, workspace_id: str, error: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(AutocreateWorkspace)
                .where(AutocreateWorkspace.workspace_id == workspace_id)
                .values(last_error=error[:1000], last_error_at=func.now())
            )

    async def requeue_orphans(self, limit: int = 1000) -> int:
        """Pending rows whose job vanished (a handler that crashed in an unexpected way is
        deleted by PgQueuer) get a new job: nothing pending is ever forgotten."""
        grace = timedelta(seconds=max(2 * self.settings.autocreate_job_heartbeat_seconds, 5.0))
        async with self.db.transaction() as session:
            rows = await session.execute(
                text(
                    "SELECT a.id FROM autocreate_contacts a "
                    "WHERE a.status = 'pending' AND a.next_attempt_at < :cutoff "
                    "AND (a.lease_until IS NULL OR a.lease_until < now()) "
                    "AND NOT EXISTS (SELECT 1 FROM pgqueuer q WHERE q.dedupe_key = "
                    "'autocreate:' || a.id AND q.status IN ('queued', 'picked')) "
                    "ORDER BY a.next_attempt_at LIMIT :limit"
                ),
                {"cutoff": datetime.now(UTC) - grace, "limit": limit},
            )
            ids = [int(r[0]) for r in rows]
            await enqueue(session, ids, timedelta(0))
        if ids:
            logger.warning(
                "autocreate.orphans.requeued",
                extra={"count": len(ids), "first_key": dedupe_key(ids[0])},
            )
        return len(ids)

    async def purge_notifications(self) -> None:
        cutoff = datetime.now(UTC) - NOTIFICATION_RETENTION
        async with self.db.transaction() as session:
            await session.execute(
                delete(AutocreateNotification).where(AutocreateNotification.received_at < cutoff)
            )
