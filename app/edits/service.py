"""Edit Salesforce Contact fields from respond.io, revert those edits, and list them.

An edit, step by step (no database transaction is open during a Salesforce call):

1. Check: editing enabled, every field visible and editable, every value valid for its type
   (from the describe) — nothing is written when one of them fails.
2. Read the Contact fresh from Salesforce (never from the lookup cache): the current values
   and `LastModifiedDate`. Fields already holding the requested value are dropped, so a
   retried request writes and records nothing twice.
3. Record the change as `pending` (committed), then PATCH with `If-Unmodified-Since` = the
   `LastModifiedDate` read in 2: a change made in Salesforce since then answers 412 and
   becomes `edit_conflict` instead of being overwritten.
4. 204 → mark the rows `applied`. A definite rejection → mark them `failed`. No answer
   (timeout, 5xx) → leave them `pending`: whether Salesforce applied the change is unknown.
   Rows left `pending` (also by a crash between 3 and 4) are settled by the next edit,
   revert or history read of the contact, from the values Salesforce then holds.
5. Read the Contact again (formula fields, `Name` and `LastModifiedDate` change with the
   write), update every cached lookup holding it, and answer with the lookup's `contact`.

A revert restores the old value of the most recent applied, unreverted edit of a field, with
the same checks, precondition and two phases; it marks that edit reverted (`reverted_at`,
`reverted_by`) and adds no row of its own, so the history lists each edit once and shows
whether it still stands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from app import errors as app_errors
from app.db import Database
from app.edits import repository as edit_history
from app.edits.reader import MALFORMED_ID_CODES, ContactReader
from app.edits.repository import FieldChange
from app.edits.schemas import MAX_HISTORY_ROWS, HistoryEntry
from app.edits.validation import canonical_contact_id, check_editable, check_values
from app.salesforce.client import Credentials, SalesforceClient
from app.salesforce.errors import (
    MalformedRequest,
    NotConnected,
    PreconditionFailed,
    ReauthorizationRequired,
    SalesforceError,
    SalesforceUnavailable,
)
from app.salesforce.values import parse_datetime, same_value
from app.workspace.caches import WorkspaceCaches
from app.workspace.contacts import ContactRef, ContactView, Plan, plan_for, render_contact
from app.workspace.context import ContextChanged, WorkspaceContext, require_connected
from app.workspace.errors import with_salesforce_errors
from app.workspace.tokens import TokenStore

logger = logging.getLogger("app.contacts.edits")


CONFLICT_DETAIL = (
    "The Contact was changed in Salesforce after respond.io read it, so nothing was written. "
    "Reload the contact and make the change again."
)


class EditService:
    def __init__(
        self,
        *,
        db: Database,
        caches: WorkspaceCaches,
        salesforce: SalesforceClient,
        tokens: TokenStore,
    ) -> None:
        self._db = db
        self._contexts = caches.contexts
        self._describes = caches.describes
        self._lookups = caches.lookups
        self._salesforce = salesforce
        self._tokens = tokens
        self._reader = ContactReader(db, self._describes, salesforce)
        # One edit or revert of a contact at a time in this process: a double click or a
        # retry racing the original then reads the first one's result and writes nothing.
        # (Across replicas, If-Unmodified-Since catches the race except within one second.)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._lock_users: dict[tuple[str, str], int] = {}

    # -- public ------------------------------------------------------------------------------

    async def edit(
        self, workspace_id: str, contact_id: str, values: dict[str, Any], user_id: str
    ) -> ContactView:
        contact_id = canonical_contact_id(contact_id)

        async def attempt(context: WorkspaceContext) -> ContactView:
            async with self._one_at_a_time(workspace_id, contact_id):
                return await self._edit(context, contact_id, values, user_id)

        return await with_salesforce_errors(self._contexts, workspace_id, attempt)

    async def revert(
        self, workspace_id: str, contact_id: str, field: str, user_id: str, *, force: bool
    ) -> ContactView:
        contact_id = canonical_contact_id(contact_id)

        async def attempt(context: WorkspaceContext) -> ContactView:
            async with self._one_at_a_time(workspace_id, contact_id):
                return await self._revert(context, contact_id, field, user_id, force)

        return await with_salesforce_errors(self._contexts, workspace_id, attempt)

    async def history(self, workspace_id: str, contact_id: str) -> list[HistoryEntry]:
        contact_id = canonical_contact_id(contact_id)

        async def attempt(context: WorkspaceContext) -> list[HistoryEntry]:
            return await self._history(context, contact_id)

        return await with_salesforce_errors(self._contexts, workspace_id, attempt)

    # -- edit ---------------------------------------------------------------------------------

    async def _edit(
        self, context: WorkspaceContext, contact_id: str, values: dict[str, Any], user_id: str
    ) -> ContactView:
        if not context.settings.editing_enabled:
            raise app_errors.EditingDisabled()
        require_connected(context)
        describe = await self._describes.get(context)
        fields = check_editable(context, describe, values)
        checked = check_values(fields, list(values.values()))
        plan = plan_for(context, describe)
        ref = self._ref(context, contact_id)
        credentials = await self._tokens.for_context(context)
        record = await self._reader.read_and_settle(
            context, describe, plan, ref, credentials, [f.name for f in fields]
        )
        changes = [
            FieldChange(field.name, record.get(field.name), value)
            for field, value in checked
            if not same_value(field.type, record.get(field.name), value)
        ]
        if not changes:
            logger.info(
                "contacts.edit.unchanged",
                extra={"workspace_id": context.workspace_id, "contact_id": contact_id},
            )
            return await self._publish(context, plan, record, ref)

        since = self._last_modified(record)
        change_id, ids = await edit_history.insert_pending(self._db, ref, changes, user_id)
        written = {change.field: change.new_value for change in changes}
        log = {
            "workspace_id": context.workspace_id,
            "contact_id": contact_id,
            "change_id": str(change_id),
            "fields": sorted(written),
            "user_id": user_id,
        }
        await self._write(context, contact_id, written, since, credentials, ids, log)
        try:
            await edit_history.mark_applied(self._db, ids)
        except Exception:  # noqa: BLE001 - Salesforce has the change; the next read settles it
            logger.exception("contacts.edit.mark_failed", extra=log)
        logger.info("contacts.edit.applied", extra=log)
        return await self._after_write(context, plan, ref, credentials, record, written)

    async def _write(
        self,
        context: WorkspaceContext,
        contact_id: str,
        values: dict[str, Any],
        since: datetime,
        credentials: Credentials,
        ids: list[int],
        log: dict[str, Any],
    ) -> None:
        """PATCH with the precondition; settle `ids` as failed when Salesforce surely refused."""
        try:
            await self._salesforce.update_contact(
                context.workspace_id,
                contact_id,
                values,
                if_unmodified_since=since,
                credentials=credentials,
            )
        except PreconditionFailed:
            await edit_history.mark_failed(self._db, ids, "PRECONDITION_FAILED")
            logger.info("contacts.edit.conflict", extra=log)
            raise app_errors.EditConflict(CONFLICT_DETAIL) from None
        except SalesforceUnavailable:
            # No answer: Salesforce may or may not have applied it. The rows stay pending
            # and are settled from Salesforce's values on the next read of the contact.
            logger.warning("contacts.edit.outcome_unknown", extra=log)
            raise
        except (SalesforceError, NotConnected, ReauthorizationRequired) as exc:
            code = getattr(exc, "error_code", type(exc).__name__)
            await edit_history.mark_failed(self._db, ids, code)
            logger.info("contacts.edit.rejected", extra={**log, "error_code": code})
            if isinstance(exc, MalformedRequest) and exc.error_code in MALFORMED_ID_CODES:
                raise app_errors.SalesforceContactNotFound() from exc
            raise

    # -- revert -------------------------------------------------------------------------------

    async def _revert(
        self,
        context: WorkspaceContext,
        contact_id: str,
        field_name: str,
        user_id: str,
        force: bool,
    ) -> ContactView:
        if not context.settings.editing_enabled:
            raise app_errors.EditingDisabled()
        require_connected(context)
        describe = await self._describes.get(context)
        (field,) = check_editable(context, describe, [field_name])
        plan = plan_for(context, describe)
        ref = self._ref(context, contact_id)
        credentials = await self._tokens.for_context(context)
        record = await self._reader.read_and_settle(
            context, describe, plan, ref, credentials, [field.name]
        )
        edit = await edit_history.latest_unreverted(self._db, ref, field.name)
        if edit is None:
            raise app_errors.NothingToRevert(
                f"No edit of {field.name} made through respond.io is left to undo."
            )
        current = record.get(field.name)
        log = {
            "workspace_id": context.workspace_id,
            "contact_id": contact_id,
            "field": field.name,
            "edit_id": edit.id,
            "user_id": user_id,
            "force": force,
        }
        if not force and not same_value(field.type, current, edit.new_value):
            logger.info("contacts.revert.conflict", extra=log)
            raise app_errors.EditConflict(
                f"{field.name} was changed in Salesforce after respond.io wrote it, so the "
                "revert would overwrite that change. Use force=true to revert anyway."
            )
        since = self._last_modified(record)
        if not await edit_history.start_revert(self._db, edit.id, user_id):
            raise app_errors.EditConflict(
                f"Another revert of {field.name} is in progress. Reload the contact."
            )
        written = {field.name: edit.old_value}
        if same_value(field.type, current, edit.old_value):
            await edit_history.finish_revert(self._db, edit.id, user_id)
            logger.info("contacts.revert.already_in_place", extra=log)
            return await self._publish(context, plan, record, ref)
        try:
            await self._salesforce.update_contact(
                context.workspace_id,
                contact_id,
                written,
                if_unmodified_since=since,
                credentials=credentials,
            )
        except PreconditionFailed:
            await edit_history.abandon_revert(self._db, edit.id)
            logger.info("contacts.revert.conflict", extra=log)
            raise app_errors.EditConflict(CONFLICT_DETAIL) from None
        except SalesforceUnavailable:
            logger.warning("contacts.revert.outcome_unknown", extra=log)
            raise
        except (SalesforceError, NotConnected, ReauthorizationRequired):
            await edit_history.abandon_revert(self._db, edit.id)
            logger.info("contacts.revert.rejected", extra=log)
            raise
        try:
            await edit_history.finish_revert(self._db, edit.id, user_id)
        except Exception:  # noqa: BLE001 - Salesforce has the change; the next read settles it
            logger.exception("contacts.revert.mark_failed", extra=log)
        logger.info("contacts.revert.applied", extra=log)
        return await self._after_write(context, plan, ref, credentials, record, written)

    # -- history ------------------------------------------------------------------------------

    async def _history(self, context: WorkspaceContext, contact_id: str) -> list[HistoryEntry]:
        require_connected(context)
        ref = self._ref(context, contact_id)
        unsettled = await edit_history.unsettled(self._db, ref)
        if unsettled:
            try:
                describe = await self._describes.get(context)
                credentials = await self._tokens.for_context(context)
                await self._reader.settle_from_salesforce(
                    context, describe, ref, credentials, unsettled
                )
            except (SalesforceError, ContextChanged) as exc:
                # Unsettled rows stay out of the history until Salesforce can be asked.
                logger.info(
                    "contacts.history.settle_skipped",
                    extra={
                        "workspace_id": context.workspace_id,
                        "contact_id": contact_id,
                        "error": type(exc).__name__,
                    },
                )
        rows = await edit_history.applied_edits(self._db, ref, MAX_HISTORY_ROWS)
        return [HistoryEntry.model_validate(row, from_attributes=True) for row in rows]

    # -- shared steps -------------------------------------------------------------------------

    @asynccontextmanager
    async def _one_at_a_time(self, workspace_id: str, contact_id: str) -> AsyncIterator[None]:
        key = (workspace_id, contact_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] = self._lock_users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[key] -= 1
            if not self._lock_users[key]:
                del self._lock_users[key]
                del self._locks[key]

    @staticmethod
    def _ref(context: WorkspaceContext, contact_id: str) -> ContactRef:
        assert context.organization_id is not None  # require_connected passed
        return ContactRef(context.workspace_id, context.organization_id, contact_id)

    @staticmethod
    def _last_modified(record: dict[str, Any]) -> datetime:
        modified = parse_datetime(record.get("LastModifiedDate"), naive_is_utc=False)
        if modified is None:
            # Without it the precondition cannot be sent; refuse rather than overwrite blindly.
            raise SalesforceUnavailable("Salesforce answered without LastModifiedDate")
        return modified

    async def _after_write(
        self,
        context: WorkspaceContext,
        plan: Plan,
        ref: ContactRef,
        credentials: Credentials,
        before: dict[str, Any],
        written: dict[str, Any],
    ) -> ContactView:
        """Read the Contact again and refresh the cached lookups holding it."""
        try:
            record = await self._reader.get(context, ref.contact_id, plan.selected, credentials)
        except (SalesforceError, ContextChanged, app_errors.AppError) as exc:
            # The write stands; answer with what we know and let lookups read it afresh.
            logger.warning(
                "contacts.edit.reread_failed",
                extra={
                    "workspace_id": context.workspace_id,
                    "contact_id": ref.contact_id,
                    "error": type(exc).__name__,
                },
            )
            await self._lookups.invalidate_contact(context.workspace_id, ref.contact_id)
            record = {**before, **written, "LastModifiedDate": None}
            revertible = await edit_history.revertible_fields(self._db, ref)
            return render_contact(context, plan.fields, record, revertible)
        return await self._publish(context, plan, record, ref)

    async def _publish(
        self, context: WorkspaceContext, plan: Plan, record: dict[str, Any], ref: ContactRef
    ) -> ContactView:
        """The contact object for a fresh record; cached lookups holding it get it too."""
        revertible = await edit_history.revertible_fields(self._db, ref)
        await self._lookups.update_contact(context.workspace_id, record, revertible=revertible)
        return render_contact(context, plan.fields, record, revertible)
