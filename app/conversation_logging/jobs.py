"""The logger: one job per closed conversation turns it into one completed Salesforce Task.

The job carries the `logged_conversations` row id; the row is the truth. A run leases the
row (a second worker given the same job backs off), then, with no transaction open:

1. decides: logging on, Salesforce connected, a respond.io token, and the org's API usage
   below SALESFORCE_API_BACKGROUND_MAX_USAGE (else the job waits and looks again);
2. plans the Task once: the matching Contact or Lead, the conversation's messages from
   respond.io, the subject, the transcript, the owner; a skip (no record, too few messages)
   is recorded with its reason. The plan is stored, so every later attempt writes the same;
3. writes it: `task_sent_at` is set before the POST, so an attempt after a lost answer or a
   crash first looks for the Task in Salesforce (same record, subject and description,
   created since) and creates it only when it is not there.

respond.io's 429s are waited out (their Retry-After, no attempt used); outages of respond.io
or Salesforce are retried without end (a short, capped backoff, so the work resumes within
seconds of the fault clearing): nothing is lost. One Task per conversation, whatever the
redeliveries, retries, restarts and replicas.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import asyncpg
from pgqueuer import Queries, QueueManager, RetryRequested
from pgqueuer.db import AsyncpgPoolDriver
from pgqueuer.models import Job

from app.config import Settings
from app.conversation_logging import job_statements as sql
from app.conversation_logging.planner import Plan, Planner, Skip
from app.conversation_logging.repository import ENTRYPOINT, dedupe_key
from app.crypto import TokenCipher
from app.kit.singleflight import TTLSingleFlight
from app.respondio.client import RespondioClient
from app.respondio.errors import (
    RespondioAuthError,
    RespondioBadRequest,
    RespondioError,
    RespondioRateLimited,
)
from app.salesforce.client import SalesforceClient
from app.salesforce.errors import (
    MalformedRequest,
    NotConnected,
    ReauthorizationRequired,
    SalesforceError,
    WriteRejected,
)
from app.salesforce.soql import format_soql
from app.workspace.budget import ApiBudget
from app.workspace.tasks import closed_task_status

logger = logging.getLogger("app.conversation_logging.jobs")

SETTLE_WINDOW = timedelta(minutes=10)
# How soon a paused or faulted conversation is looked at again: with the worker's poll of
# delayed jobs (at most a second), within 5 seconds of the fault clearing.
PAUSE_SECONDS = 3.0
LEASE_SECONDS = 120.0
SWEEP_SECONDS = 15.0  # how often lost jobs are looked for; overdue by this much, re-queued


def build_logger(
    pool: asyncpg.Pool,
    cipher: TokenCipher,
    respondio: RespondioClient,
    salesforce: SalesforceClient,
    budget: ApiBudget,
    settings: Settings,
) -> ConversationLogger:
    planner = Planner(respondio, salesforce, settings.phone_default_region)
    return ConversationLogger(pool, cipher, planner, salesforce, budget, settings)


@dataclass(eq=False)
class ConversationLogger:
    pool: asyncpg.Pool
    cipher: TokenCipher
    planner: Planner
    salesforce: SalesforceClient
    budget: ApiBudget
    settings: Settings
    retry_max_seconds: float = PAUSE_SECONDS
    _closed_status: TTLSingleFlight[str, str] = field(
        default_factory=lambda: TTLSingleFlight(ttl_seconds=3600.0, max_entries=10_000)
    )

    def register(self, queue: QueueManager) -> None:
        """The job's entrypoint on the worker's queue."""
        queue.entrypoint(ENTRYPOINT, on_failure="delete")(self.handle)

    async def sweep(self) -> int:
        """Queue again the pending conversations whose job was lost: none is left behind by
        a re-queue that failed (the database cut meanwhile). Returns how many."""
        rows = await self.pool.fetch(sql.STRANDED, SWEEP_SECONDS)
        if rows:
            ids = [int(r["id"]) for r in rows]
            queries = Queries(AsyncpgPoolDriver(self.pool))
            await queries.enqueue(
                [ENTRYPOINT] * len(ids),
                [str(i).encode() for i in ids],
                [0] * len(ids),
                [timedelta(0)] * len(ids),
                [dedupe_key(i) for i in ids],
                on_conflict="skip",
            )
            logger.info("conversation_logging.jobs.requeued", extra={"conversations": len(ids)})
        return len(rows)

    async def handle(self, job: Job) -> None:
        """PgQueuer entrypoint: RetryRequested to be run again later. Whatever else goes
        wrong (the database, a bug) retries too: a job is never dropped while its
        conversation is pending."""
        if job.payload is None:
            return
        try:
            await self.run(int(job.payload))
        except RetryRequested:
            raise
        except Exception as exc:  # noqa: BLE001 - the job must stay queued
            logger.exception(
                "conversation_logging.job.crashed", extra={"error_type": type(exc).__name__}
            )
            raise RetryRequested(
                delay=timedelta(seconds=self.retry_max_seconds), reason=type(exc).__name__
            ) from None

    async def run(self, row_id: int) -> None:
        row = await self._claim(row_id)
        if row is None:
            return
        ws = row["workspace_id"]
        log = {"workspace_id": ws, "conversation": row_id}
        refusal = self._precondition(row)
        if refusal is not None:
            await self._settle(row_id, *refusal)
            return
        organization_id = str(row["organization_id"])
        paused = await self.budget.pause_reason(organization_id)
        if paused is not None:  # background work waits while the org's usage is high
            await self._later(row_id, PAUSE_SECONDS, paused)
        try:
            plan = self._stored_plan(row)
            if plan is None:
                token = self.cipher.decrypt(row["api_token_encrypted"])
                planned = await self.planner.plan(row, token)
                if isinstance(planned, Skip):
                    await self._settle(row_id, "skipped", planned.reason)
                    return
                plan = planned
                await self.pool.execute(
                    sql.PLAN,
                    row_id,
                    plan.record_id,
                    plan.owner_id,
                    plan.subject,
                    plan.description,
                    plan.activity_date,
                )
            task_id = await self._write(row, plan)
        except RespondioRateLimited as exc:
            logger.info(
                "conversation_logging.job.rate_limited",
                extra={**log, "retry_after": exc.retry_after},
            )
            await self._later(
                row_id,
                exc.retry_after + random.uniform(0, 0.25),
                "waiting: respond.io rate limit (429)",
            )
        except RespondioAuthError:
            await self._settle(row_id, "failed", "respond.io refused the workspace's API token")
            return
        except (NotConnected, ReauthorizationRequired) as exc:
            await self._settle(
                row_id, "failed", f"Salesforce connection unusable ({type(exc).__name__})"
            )
            return
        except WriteRejected as exc:
            await self._settle(
                row_id, "failed", f"Salesforce refused the Task: {exc.error_code}: {exc}"[:500]
            )
            return
        except (RespondioBadRequest, MalformedRequest) as exc:  # a "no" that will not change
            await self._settle(row_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
            return
        except (RespondioError, SalesforceError, OSError) as exc:
            attempts = int(row["attempts"]) + 1
            delay = min(self.retry_max_seconds, 0.25 * 2 ** min(attempts, 8)) * random.uniform(
                0.5, 1
            )
            logger.info(
                "conversation_logging.job.retry",
                extra={**log, "attempt": attempts, "error_type": type(exc).__name__},
            )
            await self._later(row_id, delay, f"retrying: {type(exc).__name__}", attempts=attempts)
        url = f"{row['instance_url']}/lightning/r/Task/{task_id}/view"
        await self._settle(row_id, "logged", None, task_id, url)
        await self._remember_activity(row, plan, task_id)
        logger.info("conversation_logging.job.logged", extra={**log, "task_id": task_id})

    # -- decide ------------------------------------------------------------------------------

    async def _claim(self, row_id: int) -> asyncpg.Record | None:
        row = await self.pool.fetchrow(sql.CLAIM, row_id, LEASE_SECONDS)
        if row is not None:
            return row
        current = await self.pool.fetchrow(sql.LEASE, row_id)
        if current is None or current["status"] != "pending" or current["lease_until"] is None:
            return None
        wait = (current["lease_until"] - datetime.now(UTC)).total_seconds()
        raise RetryRequested(delay=timedelta(seconds=max(wait, 0.0) + 0.5), reason="leased")

    @staticmethod
    def _precondition(row: asyncpg.Record) -> tuple[str, str] | None:
        if not row["conversation_logging_enabled"]:
            return "skipped", "conversation logging is off for this workspace"
        if row["connection_status"] is None:
            return "skipped", "Salesforce is not connected"
        if row["connection_status"] != "connected":
            return "failed", "the Salesforce connection needs reauthorization"
        if row["api_token_encrypted"] is None:
            return "failed", "no respond.io API token is stored for this workspace"
        return None

    @staticmethod
    def _stored_plan(row: asyncpg.Record) -> Plan | None:
        if row["description"] is None or row["record_id"] is None:
            return None
        return Plan(
            record_id=row["record_id"],
            owner_id=row["owner_id"],
            subject=row["subject"],
            description=row["description"],
            activity_date=row["activity_date"],
            occurred_at=datetime.fromisoformat(row["activity_date"]).replace(tzinfo=UTC),
        )

    # -- write -------------------------------------------------------------------------------

    async def _write(self, row: asyncpg.Record, plan: Plan) -> str:
        ws = row["workspace_id"]
        if row["task_sent_at"] is not None:
            found = await self._find_sent(ws, plan, row["task_sent_at"])
            if found is not None:
                logger.info(
                    "conversation_logging.job.settled", extra={"workspace_id": ws, "task_id": found}
                )
                return found
        status = await self._closed(ws, str(row["organization_id"]))
        values: dict[str, Any] = {
            "WhoId": plan.record_id,
            "Subject": plan.subject,
            "Description": plan.description,
            "ActivityDate": plan.activity_date,
            "Status": status,
        }
        if plan.owner_id:
            values["OwnerId"] = plan.owner_id
        if (
            await self.pool.fetchval(sql.SENT, row["id"], row["task_sent_at"], LEASE_SECONDS)
            is None
        ):
            # Another attempt took over (this one outlived its lease): it writes the Task.
            raise RetryRequested(delay=timedelta(seconds=PAUSE_SECONDS), reason="taken over")
        try:
            return await self.salesforce.create_record(ws, "Task", values, purpose="activity")
        except WriteRejected as exc:
            if "OwnerId" not in values or "OwnerId" not in exc.fields:
                raise
            # The assignee's user may not own it (inactive, no access): the connected user
            # does, as for a conversation without an assignee.
            logger.info(
                "conversation_logging.job.owner_refused",
                extra={"workspace_id": ws, "error_code": exc.error_code},
            )
            del values["OwnerId"]
            return await self.salesforce.create_record(ws, "Task", values, purpose="activity")

    async def _find_sent(self, ws: str, plan: Plan, sent_at: datetime) -> str | None:
        """The Task an earlier attempt created (its answer lost), or None."""
        since = (sent_at - SETTLE_WINDOW).astimezone(UTC).replace(microsecond=0)
        soql = format_soql(
            "SELECT Id, Description FROM Task WHERE WhoId = {} AND Subject = {} "
            "AND CreatedDate >= {} ORDER BY CreatedDate ASC LIMIT 200",
            plan.record_id,
            plan.subject,
            since,
        )
        wanted = plan.description.replace("\r\n", "\n")
        for task in await self.salesforce.query(ws, soql, purpose="activity"):
            if str(task.get("Description") or "").replace("\r\n", "\n") == wanted:
                return str(task["Id"])
        return None

    async def _closed(self, ws: str, organization_id: str) -> str:
        """The org's closed Task status, one query per org for concurrent jobs."""
        status: str = await self._closed_status.get(
            organization_id, lambda: closed_task_status(self.salesforce, ws)
        )
        return status

    # -- record ------------------------------------------------------------------------------

    async def _settle(
        self,
        row_id: int,
        status: str,
        reason: str | None,
        task_id: str | None = None,
        url: str | None = None,
    ) -> None:
        await self.pool.execute(sql.SETTLE, row_id, status, reason, task_id, url)
        level = logging.INFO if status != "skipped" else logging.DEBUG
        logger.log(
            level,
            "conversation_logging.job.settled",
            extra={"conversation": row_id, "status": status, "reason": reason},
        )

    async def _later(
        self, row_id: int, delay: float, note: str, *, attempts: int | None = None
    ) -> NoReturn:
        await self.pool.execute(
            sql.RESCHEDULE, row_id, datetime.now(UTC) + timedelta(seconds=delay), note, attempts
        )
        raise RetryRequested(delay=timedelta(seconds=delay), reason=note[:60])

    async def _remember_activity(self, row: asyncpg.Record, plan: Plan, task_id: str) -> None:
        external_id = f"respondio-conversation:{row['conversation_key']}"
        await self.pool.execute(
            sql.ACTIVITY,
            row["workspace_id"],
            str(row["organization_id"]),
            external_id,
            plan.record_id,
            f"[conversation:{row['id']}]",
            plan.subject,
            plan.occurred_at,
            task_id,
        )
