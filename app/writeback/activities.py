"""Log a conversation as a completed Salesforce Task (docs/api.md, "Activities").

Exactly one Task per (workspace, external_id), across retries, replicas and restarts:

1. Record the intent first: a `pending` row under the unique key, carrying a marker
   (`[respond.io:<hash>]`) that is written at the end of the Task's Description. The request
   that inserted the row holds its lease; a concurrent request with the same id waits for
   the row to settle and answers the same Task (`created: false`).
2. One POST of the Task (one API call; its Status is the org's closed status, read once per
   connection from TaskStatus). Created → the row becomes `created`. A definite rejection →
   the row is deleted. No answer (timeout, 5xx, a cut connection) → the row stays `pending`
   and its lease is given up.
3. A later request finding a `pending` row without a live lease settles it against
   Salesforce before anything else: it looks for a Task of the record created since the
   intent whose Description carries the marker (Description cannot be filtered in SOQL, so
   it is matched here). Found → that Task; not found → it is created now.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC
from typing import Any, Unpack

from app import errors as app_errors
from app.config import Settings
from app.models import LoggedActivity
from app.salesforce.client import Credentials
from app.salesforce.errors import RecordNotFound, SalesforceUnavailable, WriteRejected
from app.salesforce.soql import format_soql
from app.salesforce.values import id18, is_id
from app.workspace.context import WorkspaceContext, require_connected
from app.workspace.errors import with_salesforce_errors
from app.workspace.service_base import ServiceParts, WorkspaceService
from app.workspace.tasks import closed_task_status
from app.writeback import repository
from app.writeback.schemas import (
    DESCRIPTION_LIMIT,
    MAX_ACTIVITIES_LISTED,
    ActivityOut,
    ActivityRequest,
    LoggedActivityOut,
)
from app.writeback.settle import lease_of, settle_since

logger = logging.getLogger("app.writeback.activity")

PREFIXES = {"003": "Contact", "00Q": "Lead"}
CUT_MARKER = "\n\n[… cut by respond.io: the conversation was longer than Salesforce allows]"
POLL_SECONDS = 0.05


def marker_of(workspace_id: str, external_id: str) -> str:
    digest = hashlib.blake2b(f"{workspace_id}\x1f{external_id}".encode(), digest_size=8)
    return f"[respond.io:{digest.hexdigest()}]"


def utf16_units(text: str) -> int:
    """The length Salesforce measures: UTF-16 code units (a character outside the Basic
    Multilingual Plane, an emoji, counts two)."""
    return len(text.encode("utf-16-le")) // 2


def cut_to_units(text: str, units: int) -> str:
    """The longest beginning of `text` of at most `units` UTF-16 units (never half a
    character)."""
    return text.encode("utf-16-le")[: 2 * units].decode("utf-16-le", errors="ignore")


def task_description(description: str, marker: str) -> str:
    """The description with the marker at its end, cut visibly to Salesforce's limit."""
    tail = "\n\n" + marker
    room = DESCRIPTION_LIMIT - utf16_units(tail)
    if utf16_units(description) > room:
        description = cut_to_units(description, room - utf16_units(CUT_MARKER)) + CUT_MARKER
    return description + tail


def canonical_record_id(raw: str) -> tuple[str, str]:
    if not is_id(raw) or raw[:3] not in PREFIXES or id18(raw) is None:
        raise app_errors.ValidationFailed(
            "record_id: must be a Salesforce Contact (003...) or Lead (00Q...) id",
            errors=[{"field": "record_id", "message": "must be a Contact or Lead id"}],
        )
    return str(id18(raw)), PREFIXES[raw[:3]]


class ActivityService(WorkspaceService):
    def __init__(self, *, settings: Settings, **parts: Unpack[ServiceParts]) -> None:
        super().__init__(**parts)
        self._lease = lease_of(settings)
        self._closed_status: dict[tuple[str, str], str] = {}

    async def log(self, workspace_id: str, body: ActivityRequest, user_id: str) -> ActivityOut:
        async def attempt(context: WorkspaceContext) -> ActivityOut:
            return await self._log(context, body, user_id)

        return await with_salesforce_errors(self._contexts, workspace_id, attempt)

    async def list(self, workspace_id: str, record_id: str) -> list[LoggedActivityOut]:
        record_id, _ = canonical_record_id(record_id)
        context = await self._contexts.get(workspace_id)
        require_connected(context)
        rows = await repository.activities_of(
            self._db, workspace_id, str(context.organization_id), record_id, MAX_ACTIVITIES_LISTED
        )
        return [
            LoggedActivityOut(
                task_id=str(r.task_id),
                url=self._url(context, str(r.task_id)),
                record_id=r.record_id,
                subject=r.subject,
                occurred_at=r.occurred_at,
                external_id=r.external_id,
                logged_by=r.created_by,
                logged_at=r.created_at,
            )
            for r in rows
        ]

    # -- internals ---------------------------------------------------------------------------

    async def _log(
        self, context: WorkspaceContext, body: ActivityRequest, user_id: str
    ) -> ActivityOut:
        if not context.settings.activity_logging_enabled:
            raise app_errors.ActivityLoggingDisabled()
        require_connected(context)
        record_id, sobject = canonical_record_id(body.record_id)
        ws = context.workspace_id
        intent = {
            "workspace_id": ws,
            "organization_id": str(context.organization_id),
            "external_id": body.external_id,
            "record_id": record_id,
            "marker": marker_of(ws, body.external_id),
            "subject": body.subject,
            "occurred_at": body.occurred_at.astimezone(UTC),
            "created_by": user_id,
        }
        row, owner = await repository.claim_activity(self._db, intent)
        credentials = await self._tokens.for_context(context)
        admitted = False  # asked the write limits already (settling a lost attempt)
        while not owner:
            if row.status == repository.CREATED and row.task_id:
                return self._answer(context, row.task_id, created=False)
            if await repository.take_over(self._db, row.id, self._lease):
                # The earlier attempt lost its answer or died: did it create the Task?
                try:
                    await self._before_write(context)
                except BaseException:
                    await repository.give_up_lease(self._db, row.id)
                    raise
                admitted = True
                found = await self._settle(context, row, credentials)
                if found is not None:
                    await repository.mark_created(self._db, row.id, found)
                    return self._answer(context, found, created=False)
                break
            await asyncio.sleep(POLL_SECONDS)  # another request holds the lease
            fresh = await repository.activity(self._db, row.id)
            if fresh is None:  # that attempt was refused and forgotten: claim anew
                row, owner = await repository.claim_activity(self._db, intent)
            else:
                row = fresh
        task_id = await self._create(context, row, body, sobject, credentials, admitted)
        return self._answer(context, task_id, created=True)

    def _answer(self, context: WorkspaceContext, task_id: str, *, created: bool) -> ActivityOut:
        return ActivityOut(task_id=task_id, url=self._url(context, task_id), created=created)

    async def _create(
        self,
        context: WorkspaceContext,
        row: LoggedActivity,
        body: ActivityRequest,
        sobject: str,
        credentials: Credentials,
        admitted: bool,
    ) -> str:
        ws = context.workspace_id
        log = {"workspace_id": ws, "record_id": row.record_id, "activity": row.id}
        try:
            if not admitted:
                await self._before_write(context)  # refused: the row is forgotten below
            status = await self._closed(context, credentials)
            values: dict[str, Any] = {
                "WhoId": row.record_id,
                "Subject": body.subject,
                "Description": task_description(body.description, row.marker),
                "ActivityDate": row.occurred_at.astimezone(UTC).date().isoformat(),
                "Status": status,
            }
            task_id = await self._salesforce.create_record(
                ws, "Task", values, credentials=credentials, purpose="activity"
            )
        except SalesforceUnavailable:
            await repository.give_up_lease(self._db, row.id)
            logger.warning("writeback.activity.outcome_unknown", extra=log)
            raise
        except RecordNotFound:
            # ENTITY_IS_DELETED on WhoId (400, or 404): the Contact or Lead is in the bin.
            await repository.forget_activity(self._db, row.id)
            raise app_errors.record_not_found(sobject) from None
        except WriteRejected as exc:
            await repository.forget_activity(self._db, row.id)
            if exc.error_code == "INVALID_CROSS_REFERENCE_KEY":
                raise app_errors.record_not_found(sobject) from None
            raise
        except BaseException:
            await repository.forget_activity(self._db, row.id)
            raise
        await repository.mark_created(self._db, row.id, task_id)
        logger.info("writeback.activity.created", extra={**log, "task_id": task_id})
        return task_id

    async def _settle(
        self, context: WorkspaceContext, row: LoggedActivity, credentials: Credentials
    ) -> str | None:
        """The Task an earlier attempt created, found by its marker, or None."""
        since = settle_since(row.created_at)
        soql = format_soql(
            "SELECT Id, Description FROM Task WHERE WhoId = {} AND CreatedDate >= {} "
            "ORDER BY CreatedDate DESC LIMIT 200",
            row.record_id,
            since,
        )
        tasks = await self._salesforce.query(
            context.workspace_id, soql, credentials=credentials, purpose="activity"
        )
        for task in tasks:
            if row.marker in str(task.get("Description") or ""):
                logger.info(
                    "writeback.activity.settled",
                    extra={"workspace_id": context.workspace_id, "task_id": task["Id"]},
                )
                return str(task["Id"])
        return None

    async def _closed(self, context: WorkspaceContext, credentials: Credentials) -> str:
        """The org's closed task status ("Completed" when it has one), once per connection."""
        key = (context.workspace_id, str(context.connection_id))
        held = self._closed_status.get(key)
        if held is not None:
            return held
        status = await closed_task_status(
            self._salesforce, context.workspace_id, credentials=credentials
        )
        if len(self._closed_status) > 10_000:
            self._closed_status.clear()
        self._closed_status[key] = status
        return status

    @staticmethod
    def _url(context: WorkspaceContext, task_id: str) -> str:
        return f"{context.instance_url}/lightning/r/Task/{task_id}/view"
