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
from sqlalchemy import func, select, update

from app.autocreate.contact_data import identifier_of, respondio_body
from app.autocreate.outcomes import (
    AUTO_CREATED_TAG,
    BULK_IMPORT,
    NO_IDENTIFIER,
    precondition_failure,
)
from app.config import Settings
from app.crypto import TokenCipher
from app.db import Database
from app.models import (
    AutocreateContact,
    Connection,
    RespondioCredential,
    WorkspaceSettings,
)
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
    previously_sent: bool
    attempts: int


class Finished(Exception):
    """The row reached an outcome (or is gone): nothing more to do for this job."""


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
        try:
            item = await self._claim(row_id)
        except Finished:
            return
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
            await self._settle(row_id, "failed", "respondio_unauthorized", error=str(exc))
        except RespondioBadRequest as exc:
            await self._settle(row_id, "failed", "respondio_rejected", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - every other failure is retried, then parked
            await self._failed_attempt(item, exc)

    # -- claim and decide --------------------------------------------------------------

    async def _claim(self, row_id: int) -> WorkItem | None:
        """The work to do, or None when the row was settled here (skip, no credentials)."""
        settings = self._settings
        async with self._db.transaction() as session:
            now = datetime.now(UTC)
            row = await session.scalar(
                update(AutocreateContact)
                .where(
                    AutocreateContact.id == row_id,
                    AutocreateContact.status == "pending",
                    (AutocreateContact.lease_until.is_(None))
                    | (AutocreateContact.lease_until < now),
                )
                .values(lease_until=now + timedelta(seconds=settings.autocreate_lease_seconds))
                .returning(AutocreateContact)
            )
            if row is None:
                await self._not_claimable(session, row_id, now)
            assert row is not None
            workspace_settings = await session.get(WorkspaceSettings, row.workspace_id)
            connection = await session.scalar(
                select(Connection).where(Connection.workspace_id == row.workspace_id)
            )
            skip = precondition_failure(row, workspace_settings, connection)
            if skip is not None:
                self._finish(row, "skipped", skip)
                return None
            identifier = identifier_of(row, settings.phone_default_region)
            if identifier is None:
                self._finish(row, "skipped", NO_IDENTIFIER)
                return None
            assert workspace_settings is not None
            bulk = await self._is_bulk_import(session, row)
            row.bulk_import = bulk
            if bulk and not workspace_settings.auto_create_include_bulk_imports:
                self._finish(row, "skipped", BULK_IMPORT)
                return None
            credential = await session.get(RespondioCredential, row.workspace_id)
            if credential is None:
                self._finish(row, "failed", "respondio_not_configured")
                return None
            tags = [AUTO_CREATED_TAG] if workspace_settings.auto_create_add_tag else []
            if bulk and settings.autocreate_bulk_marker_tag.strip():
                tags.append(settings.autocreate_bulk_marker_tag.strip())
            previously_sent = row.create_sent_at is not None
            # Recorded before the call: after a crash or timeout the retry knows that an
            # existing contact with this identifier may be its own.
            row.create_sent_at = row.create_sent_at or now
            row.respondio_identifier = identifier
            return WorkItem(
                row_id=row.id,
                workspace_id=row.workspace_id,
                api_token=self._cipher.decrypt(credential.api_token_encrypted),
                identifier=identifier,
                body=respondio_body(row, identifier, settings.phone_default_region),
                tags=tags,
                previously_sent=previously_sent,
                attempts=row.attempts,
            )

    async def _not_claimable(self, session: Any, row_id: int, now: datetime) -> None:
        current = await session.get(AutocreateContact, row_id)
        if current is None or current.status != "pending":
            raise Finished
        # Another worker holds the lease (or held it and died): look again when it ends.
        assert current.lease_until is not None
        wait = max((current.lease_until - now).total_seconds(), 0.0) + random.uniform(0, 0.5)
        raise RetryRequested(delay=timedelta(seconds=wait), reason="leased")

    async def _is_bulk_import(self, session: Any, row: AutocreateContact) -> bool:
        """The documented rule: at least AUTOCREATE_BULK_MIN_BATCH Contacts of the workspace
        created by the same user within the same second (CreatedDate is stored truncated)."""
        if row.sf_created_at is None or row.sf_created_by_id is None:
            return False
        same_batch = await session.scalar(
            select(func.count())
            .select_from(AutocreateContact)
            .where(
                AutocreateContact.workspace_id == row.workspace_id,
                AutocreateContact.sf_created_by_id == row.sf_created_by_id,
                AutocreateContact.sf_created_at == row.sf_created_at,
            )
        )
        return int(same_batch or 0) >= self._settings.autocreate_bulk_min_batch

    def _finish(self, row: AutocreateContact, status: str, reason: str | None) -> None:
        now = datetime.now(UTC)
        row.status = status
        row.reason = reason
        row.lease_until = None
        row.completed_at = now
        if status != "failed":
            for name in _PII_COLUMNS:
                setattr(row, name, None)
        logger.info(
            "autocreate.job.settled",
            extra={
                "row_id": row.id,
                "workspace_id": row.workspace_id,
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
                    item.row_id,
                    "skipped",
                    "already_exists",
                    respondio_contact_id=existing.get("id"),
                )
                return
        try:
            if item.tags:
                await client.add_tags(item.api_token, item.identifier, item.tags)
        except RespondioNotFound as exc:
            # Just created but not found: treat as transient (eventual consistency).
            raise RuntimeError("respond.io did not find the contact it just created") from exc
        await self._settle(item.row_id, "created", None)

    # -- recording -------------------------------------------------------------------------

    async def _settle(
        self,
        row_id: int,
        status: str,
        reason: str | None,
        *,
        error: str | None = None,
        respondio_contact_id: Any = None,
    ) -> None:
        async with self._db.transaction() as session:
            row = await session.get(AutocreateContact, row_id, with_for_update=True)
            if row is None or row.status != "pending":
                return
            self._finish(row, status, reason)
            if error is not None:
                row.last_error = error[:1000]
            if respondio_contact_id is not None:
                row.respondio_contact_id = str(respondio_contact_id)

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
            await self._settle(item.row_id, "failed", "respondio_unavailable", error=error)
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
