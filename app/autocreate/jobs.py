"""The auto-create job: one Salesforce Contact becomes one respond.io contact.

The job carries only the `autocreate_contacts` row id; the row is the truth. A job run
claims the row with a short lease (so a second worker that picks the same job, e.g. after a
missed heartbeat, backs off), decides in one short transaction whether the contact must be
skipped, then talks to respond.io with no transaction open, then records the outcome.

Duplicates at respond.io are impossible by construction: the contact is created by its
identifier (email, else E.164 phone), and a create refused because the identifier exists is
followed by a lookup. `create_sent_at` is set before the create is sent, so a retry after a
crash or a timeout knows an existing contact is probably its own and finishes tagging it.

This is the hot path of a bulk import (tens of thousands of jobs), so its statements are
plain SQL on an asyncpg pool: one round trip to claim and decide (plus BEGIN/COMMIT), one
to record the outcome, no ORM and no statement building per job.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pgqueuer import RetryRequested
from pgqueuer.models import Job

from app.autocreate.contact_data import identifier_of, respondio_body
from app.autocreate.job_statements import CLAIM, RESCHEDULE, SETTLE, WAIT
from app.autocreate.outcomes import (
    ALREADY_EXISTS,
    AUTO_CREATED_TAG,
    BULK_IMPORT,
    NO_IDENTIFIER,
    RESPONDIO_NOT_CONFIGURED,
    RESPONDIO_REJECTED,
    RESPONDIO_UNAUTHORIZED,
    RESPONDIO_UNAVAILABLE,
    WAITING,
    precondition_failure,
    whole_second_or_none,
)
from app.autocreate.waiting import TOKEN_MISSING_MESSAGE
from app.config import Settings
from app.crypto import TokenCipher
from app.respondio.client import RespondioClient
from app.respondio.errors import (
    RespondioAuthError,
    RespondioBadRequest,
    RespondioNotFound,
    RespondioRateLimited,
)

logger = logging.getLogger("app.autocreate.jobs")


@dataclass(frozen=True, slots=True)
class WorkItem:
    """What the HTTP phase needs, read in the claim transaction."""

    row_id: int
    workspace_id: str
    api_token: str
    identifier: str
    body: dict[str, Any]
    tags: list[str]
    bulk_import: bool
    previously_sent: bool
    attempts: int


class _Claimed:
    """Attribute access to the claim's result row (what `_decide` and contact_data read)."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(eq=False, repr=False)
class AutocreateJobs:
    pool: asyncpg.Pool
    cipher: TokenCipher
    respondio: RespondioClient
    settings: Settings
    _lease: float = field(init=False)
    _outcomes: Counter[str] = field(init=False, default_factory=Counter)

    def __post_init__(self) -> None:
        self._lease = float(self.settings.autocreate_lease_seconds)

    def take_summary(self) -> dict[str, int]:
        """Outcomes since the last call, e.g. {"created": 812, "skipped:bulk_import": 3}."""
        summary, self._outcomes = dict(self._outcomes), Counter()
        return summary

    async def handle(self, job: Job) -> None:
        """PgQueuer entrypoint. Raises RetryRequested to reschedule; returns when settled."""
        if job.payload is None:
            return
        await self.run(int(job.payload))

    async def run(self, row_id: int) -> None:
        item = await self._claim(row_id)
        if item is None:
            return
        try:
            await self._push(item)
        except RespondioRateLimited as exc:
            # respond.io asked us to wait: not the contact's fault, so no attempt is used.
            delay = exc.retry_after + random.uniform(0, 0.25)
            await self._reschedule(row_id, delay, "respond.io rate limit (429)")
            logger.info(
                "autocreate.job.rate_limited",
                extra={"row_id": row_id, "workspace_id": item.workspace_id, "retry_in": delay},
            )
            raise RetryRequested(delay=timedelta(seconds=delay), reason="respondio_429") from None
        except RespondioAuthError as exc:
            await self._settle(item, "failed", RESPONDIO_UNAUTHORIZED, error=str(exc))
        except RespondioBadRequest as exc:
            await self._settle(item, "failed", RESPONDIO_REJECTED, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - every other failure is retried, then parked
            await self._failed_attempt(item, exc)

    # -- claim and decide --------------------------------------------------------------

    async def _claim(self, row_id: int) -> WorkItem | None:
        """The work to do, or None when the row was settled here (skip) or parked to wait
        for the respond.io token.

        One statement takes the lease, sets the create marker and reads everything the
        decision needs (settings, connection, credential, the size of the row's batch);
        a skip is recorded in the same transaction, with the marker put back."""
        async with self.pool.acquire() as conn, conn.transaction():
            record = await conn.fetchrow(
                CLAIM, row_id, self._lease, self.settings.autocreate_bulk_min_batch
            )
            if record is None:
                await self._not_claimable(conn, row_id)
                return None
            claimed = _Claimed(record)
            outcome = self._decide(claimed)
            if isinstance(outcome, WorkItem):
                return outcome
            status, reason = outcome
            if status == WAITING:
                await conn.execute(
                    WAIT,
                    row_id,
                    reason,
                    claimed.sent_before,
                    TOKEN_MISSING_MESSAGE,
                    self._bulk(claimed),
                )
                self._record_outcome(row_id, claimed.workspace_id, status, reason)
                return None
            await conn.execute(
                SETTLE,
                row_id,
                status,
                reason,
                None,
                self._bulk(claimed),
                None,
                None,
                False,
                claimed.sent_before,
                None,
            )
        self._record_outcome(row_id, claimed.workspace_id, status, reason)
        return None

    def _bulk(self, claimed: Any) -> bool:
        """The documented rule: at least AUTOCREATE_BULK_MIN_BATCH Contacts of the workspace
        created by the same user within the same second (CreatedDate is stored truncated)."""
        return int(claimed.batch_size or 0) >= self.settings.autocreate_bulk_min_batch

    def _decide(self, claimed: Any) -> WorkItem | tuple[str, str]:
        settings = self.settings
        skip = precondition_failure(
            auto_create_enabled=claimed.auto_create_enabled,
            enabled_at=whole_second_or_none(
                claimed.auto_create_enabled_at or claimed.settings_updated_at
            ),
            connection_status=claimed.connection_status,
            connection_organization_id=claimed.connection_organization_id,
            organization_id=claimed.organization_id,
            sf_created_at=claimed.sf_created_at,
        )
        if skip is not None:
            return "skipped", skip
        identifier = identifier_of(claimed, settings.phone_default_region)
        if identifier is None:
            return "skipped", NO_IDENTIFIER
        bulk = self._bulk(claimed)
        if bulk and not claimed.auto_create_include_bulk_imports:
            return "skipped", BULK_IMPORT
        if claimed.api_token_encrypted is None:
            return WAITING, RESPONDIO_NOT_CONFIGURED  # resumed when the token is set
        tags = [AUTO_CREATED_TAG] if claimed.auto_create_add_tag else []
        if bulk and settings.autocreate_bulk_marker_tag.strip():
            tags.append(settings.autocreate_bulk_marker_tag.strip())
        return WorkItem(
            row_id=claimed.id,
            workspace_id=claimed.workspace_id,
            api_token=self.cipher.decrypt(claimed.api_token_encrypted),
            identifier=identifier,
            body=respondio_body(claimed, identifier, settings.phone_default_region),
            tags=tags,
            bulk_import=bulk,
            previously_sent=claimed.sent_before is not None,
            attempts=claimed.attempts,
        )

    async def _not_claimable(self, conn: asyncpg.Connection, row_id: int) -> None:
        current = await conn.fetchrow(
            "SELECT status, lease_until FROM autocreate_contacts WHERE id = $1", row_id
        )
        if current is None or current["status"] != "pending" or current["lease_until"] is None:
            return  # settled (or gone): this job has nothing left to do
        # Another worker holds the lease (or held it and died): look again when it ends.
        wait = (current["lease_until"] - datetime.now(UTC)).total_seconds()
        raise RetryRequested(
            delay=timedelta(seconds=max(wait, 0.0) + random.uniform(0, 0.5)), reason="leased"
        )

    def _record_outcome(
        self, row_id: int, workspace_id: str, status: str, reason: str | None
    ) -> None:
        """Count the outcome for the worker's periodic summary; log it one line per contact
        at DEBUG (INFO for a failure, which someone has to look at)."""
        self._outcomes[f"{status}:{reason}" if reason else status] += 1
        level = logging.INFO if status == "failed" else logging.DEBUG
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "autocreate.job.settled",
                extra={
                    "row_id": row_id,
                    "workspace_id": workspace_id,
                    "status": status,
                    "reason": reason,
                },
            )

    # -- respond.io ------------------------------------------------------------------------

    async def _push(self, item: WorkItem) -> None:
        client = self.respondio
        try:
            await client.create_contact(item.api_token, item.identifier, item.body)
        except (RespondioBadRequest, RespondioAuthError) as refused:
            if isinstance(refused, RespondioAuthError):
                raise
            # A definite "no": this create did not happen. Undo the marker unless an earlier
            # attempt may have created the contact, then see whether it exists.
            if not item.previously_sent:
                await self._clear_create_marker(item.row_id)
            existing = await client.get_contact(item.api_token, item.identifier)
            if existing is None:
                raise
            if not item.previously_sent:
                await self._settle(
                    item, "skipped", ALREADY_EXISTS, respondio_contact_id=existing.get("id")
                )
                return
        try:
            if item.tags:
                await client.add_tags(item.api_token, item.identifier, item.tags)
        except RespondioNotFound as exc:
            # Just created but not found: treat as transient (eventual consistency).
            raise RuntimeError("respond.io did not find the contact it just created") from exc
        await self._settle(item, "created", None)

    # -- recording -------------------------------------------------------------------------

    async def _settle(
        self,
        item: WorkItem,
        status: str,
        reason: str | None,
        *,
        error: str | None = None,
        respondio_contact_id: Any = None,
        attempts: int | None = None,
    ) -> None:
        await self.pool.execute(
            SETTLE,
            item.row_id,
            status,
            reason,
            item.identifier,
            item.bulk_import,
            error[:1000] if error is not None else None,
            str(respondio_contact_id) if respondio_contact_id is not None else None,
            True,
            None,
            attempts,
        )
        self._record_outcome(item.row_id, item.workspace_id, status, reason)

    async def _clear_create_marker(self, row_id: int) -> None:
        await self.pool.execute(
            "UPDATE autocreate_contacts SET create_sent_at = NULL, updated_at = now() "
            "WHERE id = $1",
            row_id,
        )

    async def _reschedule(
        self, row_id: int, delay: float, note: str, *, attempts: int | None = None
    ) -> None:
        await self.pool.execute(
            RESCHEDULE, row_id, datetime.now(UTC) + timedelta(seconds=delay), note, attempts
        )

    async def _failed_attempt(self, item: WorkItem, exc: Exception) -> None:
        settings = self.settings
        attempts = item.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:1000]
        if attempts >= settings.autocreate_max_attempts:
            await self._settle(
                item, "failed", RESPONDIO_UNAVAILABLE, error=error, attempts=attempts
            )
            logger.warning(
                "autocreate.job.parked",
                extra={"row_id": item.row_id, "attempts": attempts, "error": error},
            )
            return
        delay = backoff_seconds(
            attempts, settings.autocreate_retry_base_seconds, settings.autocreate_retry_max_seconds
        )
        await self._reschedule(item.row_id, delay, error, attempts=attempts)
        logger.info(
            "autocreate.job.retry",
            extra={
                "row_id": item.row_id,
                "workspace_id": item.workspace_id,
                "attempt": attempts,
                "retry_in": round(delay, 3),
                "error_type": type(exc).__name__,
            },
        )
        raise RetryRequested(delay=timedelta(seconds=delay), reason=type(exc).__name__)


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base * 2^(n-1))."""
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)
