"""Writing a Contact (or Lead) for an edit or a revert, and what follows the write: the record
read again (formula fields, `Name` and `LastModifiedDate` change with it), every cached lookup
holding it refreshed, and the `contact` (or `lead`) object of the answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app import errors as app_errors
from app.db import Database
from app.edits import repository as edit_history
from app.edits.reader import ContactReader
from app.salesforce.client import Credentials, SalesforceClient
from app.salesforce.errors import SalesforceError, SalesforceUnavailable
from app.salesforce.values import parse_datetime
from app.workspace.contacts import ContactRef, ContactView, Plan, render_contact
from app.workspace.context import ContextChanged, WorkspaceContext
from app.workspace.lookup_cache import LookupCache
from app.workspace.person_accounts import is_person, on_account

logger = logging.getLogger("app.contacts.edits")


def last_modified(record: dict[str, Any]) -> datetime:
    """The record's `LastModifiedDate`, sent back as the write's precondition."""
    modified = parse_datetime(record.get("LastModifiedDate"), naive_is_utc=False)
    if modified is None:
        # Without it the precondition cannot be sent; refuse rather than overwrite blindly.
        raise SalesforceUnavailable("Salesforce answered without LastModifiedDate")
    return modified


@dataclass(frozen=True, slots=True)
class RecordWriter:
    _db: Database
    _lookups: LookupCache
    _salesforce: SalesforceClient
    _reader: ContactReader

    async def update(
        self,
        context: WorkspaceContext,
        ref: ContactRef,
        values: dict[str, Any],
        since: datetime,
        credentials: Credentials,
        record: dict[str, Any] | None = None,
    ) -> None:
        """PATCH with `If-Unmodified-Since`: a change made since `since` answers 412. A
        person account's Contact (`record` as read) is written through its Account, each
        field under its person name (docs/whole-customer.md); the history keeps the Contact's
        names."""
        sobject: str = ref.sobject
        record_id = ref.contact_id
        if ref.sobject == "Contact" and is_person(record):
            assert record is not None
            sobject, record_id, values = "Account", str(record["AccountId"]), on_account(values)
        await self._salesforce.update_record(
            context.workspace_id,
            sobject,
            record_id,
            values,
            if_unmodified_since=since,
            credentials=credentials,
        )

    async def after_write(
        self,
        context: WorkspaceContext,
        plan: Plan,
        ref: ContactRef,
        credentials: Credentials,
        before: dict[str, Any],
        written: dict[str, Any],
    ) -> ContactView:
        """Read the record again and refresh the cached lookups holding it."""
        try:
            record = await self._reader.get(context, ref, plan.selected, credentials)
        except (SalesforceError, ContextChanged, app_errors.AppError) as exc:
            # The write stands; answer with what we know and let lookups read it afresh.
            logger.warning(
                "contacts.edit.reread_failed",
                extra={
                    "workspace_id": context.workspace_id,
                    "contact_id": ref.contact_id,
                    "object": ref.sobject,
                    "error": type(exc).__name__,
                },
            )
            await self._lookups.invalidate_contact(context.workspace_id, ref.contact_id)
            record = {**before, **written, "LastModifiedDate": None}
            revertible = await edit_history.revertible_fields(self._db, ref)
            return render_contact(context, plan.fields, record, revertible, ref.sobject)
        return await self.publish(context, plan, record, ref)

    async def publish(
        self, context: WorkspaceContext, plan: Plan, record: dict[str, Any], ref: ContactRef
    ) -> ContactView:
        """The `contact` (or `lead`) object for a fresh record; cached lookups holding it get it
        too."""
        revertible = await edit_history.revertible_fields(self._db, ref)
        await self._lookups.update_contact(context.workspace_id, record, revertible=revertible)
        return render_contact(context, plan.fields, record, revertible, ref.sobject)
