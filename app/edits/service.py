"""Edit Salesforce Contact (and Lead) fields from respond.io, revert those edits, and list
them. Leads follow the Contact rules word for word (docs/api.md, "Lead edits"): their fields are
`leads.visible_fields`, their ids start with `00Q`, and a Lead that was converted is gone
(`salesforce_lead_not_found`). Whenever Salesforce says the record is gone, the cached
lookups holding it are dropped, so the next lookup shows what replaced it (for a converted
Lead, the Contact it became).

An edit, step by step (no database transaction is open during a Salesforce call):

1. Check: editing enabled, every field visible and editable, every value valid for its type
   (from the describe) — nothing is written when one of them fails.
2. Read the Contact fresh from Salesforce: the current values and `LastModifiedDate`. While
   the org's change stream is healthy, a cached lookup answer holding the record is read
   instead (the stream keeps it current within seconds, and step 3's precondition refuses
   the write if Salesforce changed the record after it): one call less per edit. Fields
   already holding the requested value are dropped, so a retried request writes and records
   nothing twice.
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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, Unpack

from app import errors as app_errors
from app.edits import repository as edit_history
from app.edits.reader import MALFORMED_ID_CODES, ContactReader
from app.edits.repository import FieldChange
from app.edits.schemas import MAX_HISTORY_ROWS, HistoryEntry
from app.edits.unchanged import answer_unchanged, cached_record, kept_current
from app.edits.validation import (
    canonical_record_id,
    check_editable,
    check_person_fields,
    check_values,
)
from app.edits.writer import RecordWriter, last_modified
from app.salesforce.errors import (
    MalformedRequest,
    NotConnected,
    PreconditionFailed,
    ReauthorizationRequired,
    RecordNotFound,
    SalesforceError,
    SalesforceUnavailable,
    WriteRejected,
)
from app.salesforce.values import same_value
from app.workspace.contacts import ContactRef, ContactView, plan_for
from app.workspace.context import (
    ContextChanged,
    WorkspaceContext,
    require_connected,
    require_enabled,
)
from app.workspace.describes import SObject
from app.workspace.errors import with_salesforce_errors
from app.workspace.person_accounts import is_person
from app.workspace.service_base import ServiceParts, WorkspaceService

logger = logging.getLogger("app.contacts.edits")
T = TypeVar("T")

CONFLICT_DETAIL = (
    "The {} was changed in Salesforce after respond.io read it, so nothing was written. "
    "Reload the contact and make the change again."
)
# Salesforce's answers to a PATCH of a record that is not (or no longer) there to edit.
GONE_CODES = MALFORMED_ID_CODES | {"CANNOT_UPDATE_CONVERTED_LEAD"}
NOT_FOUND = (app_errors.SalesforceContactNotFound, app_errors.SalesforceLeadNotFound)
Step = Callable[[WorkspaceContext, str], Awaitable[T]]


class EditService(WorkspaceService):
    def __init__(self, **parts: Unpack[ServiceParts]) -> None:
        super().__init__(**parts)
        self._reader = ContactReader(self._db, self._describes, self._salesforce)
        self._writer = RecordWriter(self._db, self._lookups, self._salesforce, self._reader)
        # One edit or revert of a contact at a time in this process: a double click or a
        # retry racing the original then reads the first one's result and writes nothing.
        # (Across replicas, If-Unmodified-Since catches the race except within one second.)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._lock_users: dict[tuple[str, str], int] = {}

    # -- public ------------------------------------------------------------------------------

    async def edit(
        self,
        workspace_id: str,
        sobject: SObject,
        record_id: str,
        values: dict[str, Any],
        user_id: str,
    ) -> ContactView:
        async def step(context: WorkspaceContext, full_id: str) -> ContactView:
            return await self._edit(context, sobject, full_id, values, user_id)

        return await self._run(workspace_id, sobject, record_id, step, exclusive=True)

    async def revert(
        self,
        workspace_id: str,
        sobject: SObject,
        record_id: str,
        field: str,
        user_id: str,
        *,
        force: bool,
    ) -> ContactView:
        async def step(context: WorkspaceContext, full_id: str) -> ContactView:
            return await self._revert(context, sobject, full_id, field, user_id, force)

        return await self._run(workspace_id, sobject, record_id, step, exclusive=True)

    async def history(
        self, workspace_id: str, sobject: SObject, record_id: str
    ) -> list[HistoryEntry]:
        async def step(context: WorkspaceContext, full_id: str) -> list[HistoryEntry]:
            return await self._history(context, sobject, full_id)

        return await self._run(workspace_id, sobject, record_id, step, exclusive=False)

    async def _run(
        self, workspace_id: str, sobject: SObject, raw_id: str, step: Step[T], *, exclusive: bool
    ) -> T:
        """`step` with the workspace's context and the 18-character id, Salesforce's failures
        turned into ours; a record Salesforce says is gone leaves no cached lookup behind."""
        record_id = canonical_record_id(raw_id, sobject)

        async def attempt(context: WorkspaceContext) -> T:
            try:
                if not exclusive:
                    return await step(context, record_id)
                async with self._one_at_a_time(workspace_id, record_id):
                    return await step(context, record_id)
            except RecordNotFound:
                raise app_errors.record_not_found(sobject) from None
            except (MalformedRequest, WriteRejected) as exc:
                # A read answers these as malformed requests, a write as refusals.
                if exc.error_code in GONE_CODES:
                    raise app_errors.record_not_found(sobject) from exc
                raise

        try:
            return await with_salesforce_errors(self._contexts, workspace_id, attempt)
        except NOT_FOUND:
            # Deleted, or (a Lead) converted: the next lookup reads what Salesforce now has.
            await self._lookups.invalidate_contact(workspace_id, record_id)
            raise

    # -- edit ---------------------------------------------------------------------------------

    async def _edit(
        self,
        context: WorkspaceContext,
        sobject: SObject,
        contact_id: str,
        values: dict[str, Any],
        user_id: str,
    ) -> ContactView:
        ref = self._editable_ref(context, sobject, contact_id)
        describe = await self._describes.get(context, sobject)
        fields = check_editable(context, describe, values, sobject)
        checked = check_values(fields, list(values.values()))
        plan = plan_for(context, describe, sobject)
        cached = await cached_record(self._lookups, context, plan, ref)
        unchanged = await answer_unchanged(self._db, context, plan, ref, checked, cached)
        if unchanged is not None:
            return unchanged
        await self._before_write(context)
        credentials = await self._tokens.for_context(context)
        record = None
        if self._streaming(context.workspace_id):
            record = await kept_current(self._db, ref, cached)
        read_from = "cache" if record is not None else "salesforce"
        if record is None:
            record = await self._reader.read_and_settle(
                context, describe, plan, ref, credentials, [f.name for f in fields]
            )
        if is_person(record):
            check_person_fields(await self._describes.get(context, "Account"), fields)
        changes = [
            FieldChange(field.name, record.get(field.name), value)
            for field, value in checked
            if not same_value(field.type, record.get(field.name), value)
        ]
        if not changes:
            logger.info(
                "contacts.edit.unchanged",
                extra={
                    "workspace_id": context.workspace_id,
                    "contact_id": contact_id,
                    "object": sobject,
                },
            )
            return await self._writer.publish(context, plan, record, ref)

        since = last_modified(record)
        change_id, ids = await edit_history.insert_pending(self._db, ref, changes, user_id)
        written = {change.field: change.new_value for change in changes}
        log = {
            "workspace_id": context.workspace_id,
            "contact_id": contact_id,
            "object": sobject,
            "change_id": str(change_id),
            "fields": sorted(written),
            "user_id": user_id,
            "read_from": read_from,
        }
        await self._settle(
            self._writer.update(context, ref, written, since, credentials, record),
            ref.sobject,
            ids,
            log,
        )
        try:
            await edit_history.mark_applied(self._db, ids)
        except Exception:  # noqa: BLE001 - Salesforce has the change; the next read settles it
            logger.exception("contacts.edit.mark_failed", extra=log)
        logger.info("contacts.edit.applied", extra=log)
        return await self._writer.after_write(context, plan, ref, credentials, record, written)

    async def _settle(
        self, write: Awaitable[None], sobject: SObject, ids: list[int], log: dict[str, Any]
    ) -> None:
        """Await the PATCH with the precondition; settle `ids` as failed when Salesforce surely
        refused."""
        try:
            await write
        except PreconditionFailed:
            await edit_history.mark_failed(self._db, ids, "PRECONDITION_FAILED")
            logger.info("contacts.edit.conflict", extra=log)
            raise app_errors.EditConflict(CONFLICT_DETAIL.format(sobject)) from None
        except SalesforceUnavailable:
            # No answer: Salesforce may or may not have applied it. The rows stay pending
            # and are settled from Salesforce's values on the next read of the contact.
            logger.warning("contacts.edit.outcome_unknown", extra=log)
            raise
        except (SalesforceError, NotConnected, ReauthorizationRequired) as exc:
            code = getattr(exc, "error_code", type(exc).__name__)
            await edit_history.mark_failed(self._db, ids, code)
            logger.info("contacts.edit.rejected", extra={**log, "error_code": code})
            raise

    # -- revert -------------------------------------------------------------------------------

    async def _revert(
        self,
        context: WorkspaceContext,
        sobject: SObject,
        contact_id: str,
        field_name: str,
        user_id: str,
        force: bool,
    ) -> ContactView:
        ref = self._editable_ref(context, sobject, contact_id)
        describe = await self._describes.get(context, sobject)
        (field,) = check_editable(context, describe, [field_name], sobject)
        plan = plan_for(context, describe, sobject)
        await self._before_write(context)
        credentials = await self._tokens.for_context(context)
        record = await self._reader.read_and_settle(
            context, describe, plan, ref, credentials, [field.name]
        )
        if is_person(record):
            check_person_fields(await self._describes.get(context, "Account"), [field])
        edit = await edit_history.latest_unreverted(self._db, ref, field.name)
        if edit is None:
            raise app_errors.NothingToRevert(
                f"No edit of {field.name} made through respond.io is left to undo."
            )
        current = record.get(field.name)
        log = {
            "workspace_id": context.workspace_id,
            "contact_id": contact_id,
            "object": sobject,
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
        since = last_modified(record)
        if not await edit_history.start_revert(self._db, edit.id, user_id):
            raise app_errors.EditConflict(
                f"Another revert of {field.name} is in progress. Reload the contact."
            )
        written = {field.name: edit.old_value}
        if same_value(field.type, current, edit.old_value):
            await edit_history.finish_revert(self._db, edit.id, user_id)
            logger.info("contacts.revert.already_in_place", extra=log)
            return await self._writer.publish(context, plan, record, ref)
        try:
            await self._writer.update(context, ref, written, since, credentials, record)
        except PreconditionFailed:
            await edit_history.abandon_revert(self._db, edit.id)
            logger.info("contacts.revert.conflict", extra=log)
            raise app_errors.EditConflict(CONFLICT_DETAIL.format(sobject)) from None
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
        return await self._writer.after_write(context, plan, ref, credentials, record, written)

    # -- history ------------------------------------------------------------------------------

    async def _history(
        self, context: WorkspaceContext, sobject: SObject, contact_id: str
    ) -> list[HistoryEntry]:
        require_connected(context)
        ref = self._ref(context, sobject, contact_id)
        unsettled = await edit_history.unsettled(self._db, ref)
        if unsettled:
            try:
                describe = await self._describes.get(context, sobject)
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
                        "object": sobject,
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

    @classmethod
    def _editable_ref(
        cls, context: WorkspaceContext, sobject: SObject, contact_id: str
    ) -> ContactRef:
        """The record's ref once editing is on (for a Lead: Leads too) and Salesforce connected."""
        require_enabled(
            context,
            sobject,
            context.settings.editing_enabled,
            app_errors.EditingDisabled,
            "Leads are turned off for this workspace (`leads.enabled`), so Lead fields "
            "cannot be edited.",
        )
        return cls._ref(context, sobject, contact_id)

    @staticmethod
    def _ref(context: WorkspaceContext, sobject: SObject, contact_id: str) -> ContactRef:
        assert context.organization_id is not None  # require_connected passed
        return ContactRef(context.workspace_id, context.organization_id, contact_id, sobject)
