"""The auto-create job: one Salesforce Contact becomes one respond.io contact.

The job carries only the `autocreate_contacts` row id; the row is the truth. A job run
claims the row with a short lease (so a second worker that picks the same job, e.g. after a
missed heartbeat, backs off), decides in one short transaction whether the contact must be
skipped, then talks to respond.io with no transaction open, then records the outcome.

Duplicates at respond.io are impossible by construction: the contact is created by its
identifier (email, else E.164 phone), and a create refused because the identifier exists is
followed by a lookup. `create_sent_at` is set before the create is sent, so a retry after a
crash or a timeout knows an existing contact is probably its own and finishes tagging it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pgqueuer import RetryRequested
from pgqueuer.models import Job
from sqlalchemy import func, select, text, update

from app.autocreate.contact_data import identifier_of, respondio_body
from app.autocreate.outcomes import (
    ALREADY_EXISTS,
    AUTO_CREATED_TAG,
    BULK_IMPORT,
    NO_IDENTIFIER,
    RESPONDIO_NOT_CONFIGURED,
    RESPONDIO_REJECTED,
    RESPONDIO_UNAUTHORIZED,
    RESPONDIO_UNAVAILABLE,
    precondition_failure,
    whole_second_or_none,
)
from app.config import Settings
from app.crypto import TokenCipher
from app.db import Database
from app.models import AutocreateContact
from app.respondio.client import RespondioClient
from app.respondio.errors import (
    RespondioAuthError,
    RespondioBadRequest,
    RespondioNotFound,
    RespondioRateLimited,
)

logger = logging.getLogger("app.autocreate.jobs")

_PII_COLUMNS = ("first_name", "last_name", "email", "phone", "mobile_phone", "language")


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


# Lease the row, set the create marker (keeping whether it was set before), and read the
# workspace's settings, connection and respond.io credential and the row's batch size.
CLAIM = text(
    """
WITH target AS (
    SELECT id, create_sent_at AS sent_before
    FROM autocreate_contacts
    WHERE id = :id AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE autocreate_contacts AS a
    SET lease_until = now() + make_interval(secs => :lease),
        create_sent_at = COALESCE(a.create_sent_at, now()),
        updated_at = now()
    FROM target
    WHERE a.id = target.id
    RETURNING a.*, target.sent_before
)
SELECT claimed.*,
       s.auto_create_enabled, s.auto_create_add_tag, s.auto_create_include_bulk_imports,
       s.auto_create_enabled_at, s.updated_at AS settings_updated_at,
       c.status AS connection_status, c.organization_id AS connection_organization_id,
       r.api_token_encrypted,
       (SELECT count(*) FROM (
            SELECT 1 FROM autocreate_contacts AS b
            WHERE b.workspace_id = claimed.workspace_id
              AND b.sf_created_by_id = claimed.sf_created_by_id
              AND b.sf_created_at = claimed.sf_created_at
            LIMIT :threshold) AS same_batch
       ) AS batch_size
FROM claimed
LEFT JOIN workspace_settings AS s ON s.workspace_id = claimed.workspace_id
LEFT JOIN salesforce_connections AS c ON c.workspace_id = claimed.workspace_id
LEFT JOIN respondio_credentials AS r ON r.workspace_id = claimed.workspace_id
"""
)


class AutocreateJobs:
    def __init__(
        self,
        db: Database,
        cipher: TokenCipher,
        respondio: RespondioClient,
        settings: Settings,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._respondio = respondio
        self._settings = settings

    async def handle(self, job: Job) -> None:
        """PgQueuer entrypoint. Raises RetryRequested to reschedule; returns when settled."""
        if job.payload is None:
            return
        await self.run(int(job.payload.decode()))

    async def run(self, row_id: int) -> None:
        item = await self._claim(row_id)
        if item is None:
            return
        try:
            await self._push(item)
        except RespondioRateLimited as exc:
            # respond.io asked us to wait: not the contact's fault, so no attempt is used.
            delay = exc.retry_after + random.uniform(0, 0.25)
            await self._release(row_id, delay, "respond.io rate limit (429)")
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
        """The work to do, or None when the row was settled here (skip, no credentials).

        One statement takes the lease, sets the create marker and reads everything the
        decision needs (settings, connection, credential, the size of the row's batch)."""
        settings = self._settings
        # Core on a plain connection: this is the hot path, no ORM session needed.
        async with self._db.engine.begin() as conn:
            claimed = (
                await conn.execute(
                    CLAIM,
                    {
                        "id": row_id,
                        "lease": settings.autocreate_lease_seconds,
                        "threshold": settings.autocreate_bulk_min_batch,
                    },
                )
            ).one_or_none()
            if claimed is None:
                await self._not_claimable(conn, row_id)
                return None
            outcome = self._decide(claimed)
            if isinstance(outcome, WorkItem):
                return outcome
            status, reason = outcome
            await conn.execute(
                self._settle_statement(
                    row_id, status, reason, create_sent_at=claimed.sent_before
                ).values(bulk_import=self._bulk(claimed))
            )
            self._log_settled(row_id, claimed.workspace_id, status, reason)
            return None

    def _bulk(self, claimed: Any) -> bool:
        """The documented rule: at least AUTOCREATE_BULK_MIN_BATCH Contacts of the workspace
        created by the same user within the same second (CreatedDate is stored truncated)."""
        return int(claimed.batch_size or 0) >= self._settings.autocreate_bulk_min_batch

    def _decide(self, claimed: Any) -> WorkItem | tuple[str, str]:
        settings = self._settings
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
            return "failed", RESPONDIO_NOT_CONFIGURED
        tags = [AUTO_CREATED_TAG] if claimed.auto_create_add_tag else []
        if bulk and settings.autocreate_bulk_marker_tag.strip():
            tags.append(settings.autocreate_bulk_marker_tag.strip())
        return WorkItem(
            row_id=claimed.id,
            workspace_id=claimed.workspace_id,
            api_token=self._cipher.decrypt(claimed.api_token_encrypted),
            identifier=identifier,
            body=respondio_body(claimed, identifier, settings.phone_default_region),
            tags=tags,
            bulk_import=bulk,
            previously_sent=claimed.sent_before is not None,
            attempts=claimed.attempts,
        )

    async def _not_claimable(self, conn: Any, row_id: int) -> None:
        current = (
            await conn.execute(
                select(AutocreateContact.status, AutocreateContact.lease_until).where(
                    AutocreateContact.id == row_id
                )
            )
        ).one_or_none()
        if current is None or current.status != "pending" or current.lease_until is None:
            return  # settled (or gone): this job has nothing left to do
        # Another worker holds the lease (or held it and died): look again when it ends.
        wait = (current.lease_until - datetime.now(UTC)).total_seconds()
        raise RetryRequested(
            delay=timedelta(seconds=max(wait, 0.0) + random.uniform(0, 0.5)), reason="leased"
        )

    def _settle_statement(
        self,
        row_id: int,
        status: str,
        reason: str | None,
        *,
        create_sent_at: datetime | None = None,
        keep_marker: bool = False,
    ) -> Any:
        values: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "lease_until": None,
            "completed_at": func.now(),
            "updated_at": func.now(),
        }
        if not keep_marker:
            values["create_sent_at"] = create_sent_at
        if status != "failed":
            values.update({name: None for name in _PII_COLUMNS})
        return (
            update(AutocreateContact)
            .where(AutocreateContact.id == row_id, AutocreateContact.status == "pending")
            .values(**values)
        )

    def _log_settled(self, row_id: int, workspace_id: str, status: str, reason: str | None) -> None:
        logger.info(
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
        client = self._respondio
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
    ) -> None:
        statement = self._settle_statement(item.row_id, status, reason, keep_marker=True).values(
            respondio_identifier=item.identifier, bulk_import=item.bulk_import
        )
        if error is not None:
            statement = statement.values(last_error=error[:1000])
        if respondio_contact_id is not None:
            statement = statement.values(respondio_contact_id=str(respondio_contact_id))
        async with self._db.engine.begin() as conn:
            await conn.execute(statement)
        self._log_settled(item.row_id, item.workspace_id, status, reason)

    async def _clear_create_marker(self, row_id: int) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(AutocreateContact)
                .where(AutocreateContact.id == row_id)
                .values(create_sent_at=None)
            )

    async def _release(self, row_id: int, delay: float, note: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(AutocreateContact)
                .where(AutocreateContact.id == row_id, AutocreateContact.status == "pending")
                .values(
                    lease_until=None,
                    next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay),
                    last_error=note,
                )
            )

    async def _failed_attempt(self, item: WorkItem, exc: Exception) -> None:
        settings = self._settings
        attempts = item.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:1000]
        if attempts >= settings.autocreate_max_attempts:
            async with self._db.transaction() as session:
                await session.execute(
                    update(AutocreateContact)
                    .where(AutocreateContact.id == item.row_id)
                    .values(attempts=attempts)
                )
            await self._settle(item, "failed", RESPONDIO_UNAVAILABLE, error=error)
            logger.warning(
                "autocreate.job.parked",
                extra={"row_id": item.row_id, "attempts": attempts, "error": error},
            )
            return
        delay = backoff_seconds(
            attempts, settings.autocreate_retry_base_seconds, settings.autocreate_retry_max_seconds
        )
        async with self._db.transaction() as session:
            await session.execute(
                update(AutocreateContact)
                .where(AutocreateContact.id == item.row_id, AutocreateContact.status == "pending")
                .values(
                    attempts=attempts,
                    lease_until=None,
                    last_error=error,
                    next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay),
                )
            )
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
