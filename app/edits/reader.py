"""Reading a Contact (or Lead) for an edit: fresh from Salesforce (never from the lookup
cache), and settling with the values it holds the edits left unsettled by a lost answer or a
crash. A converted Lead is read like a deleted one: it can no longer be edited."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app import errors as app_errors
from app.db import Database
from app.edits import repository as edit_history
from app.edits.repository import ContactRef
from app.models import ContactFieldEdit
from app.salesforce.client import Credentials, SalesforceClient
from app.salesforce.errors import MalformedRequest, RecordNotFound
from app.workspace.contacts import Plan
from app.workspace.context import ContextChanged, WorkspaceContext
from app.workspace.describes import ContactDescribe, DescribeCache

logger = logging.getLogger("app.contacts.edits")

MALFORMED_ID_CODES = frozenset({"MALFORMED_ID", "INVALID_ID_FIELD"})


@dataclass(frozen=True, slots=True)
class ContactReader:
    _db: Database
    _describes: DescribeCache
    _salesforce: SalesforceClient

    async def get(
        self,
        context: WorkspaceContext,
        ref: ContactRef,
        fields: Iterable[str],
        credentials: Credentials,
    ) -> dict[str, Any]:
        converted = ("IsConverted",) if ref.sobject == "Lead" else ()
        names = list(dict.fromkeys([*fields, "Id", "LastModifiedDate", *converted]))
        try:
            record = await self._salesforce.get_record(
                context.workspace_id, ref.sobject, ref.contact_id, names, credentials=credentials
            )
        except RecordNotFound:
            raise app_errors.record_not_found(ref.sobject) from None
        except MalformedRequest as exc:
            if exc.error_code in MALFORMED_ID_CODES:
                raise app_errors.record_not_found(ref.sobject) from None
            if exc.error_code == "INVALID_FIELD":
                # A field was removed in Salesforce since the describe was read.
                self._describes.distrust(context.workspace_id)
                raise ContextChanged() from exc
            raise
        if converted and record.get("IsConverted"):
            raise app_errors.SalesforceLeadNotFound()
        return record

    async def read_and_settle(
        self,
        context: WorkspaceContext,
        describe: ContactDescribe,
        plan: Plan,
        ref: ContactRef,
        credentials: Credentials,
        extra_fields: list[str],
    ) -> dict[str, Any]:
        """The record fresh from Salesforce; edits left unsettled are settled with it."""
        unsettled = await edit_history.unsettled(self._db, ref)
        unsettled_fields = [
            f.name for f in (describe.field(row.field) for row in unsettled) if f is not None
        ]
        record = await self.get(
            context, ref, [*plan.selected, *extra_fields, *unsettled_fields], credentials
        )
        if unsettled:
            await self._settle(context, describe, ref, unsettled, record)
        return record

    async def settle_from_salesforce(
        self,
        context: WorkspaceContext,
        describe: ContactDescribe,
        ref: ContactRef,
        credentials: Credentials,
        unsettled: list[ContactFieldEdit],
    ) -> None:
        names = [f.name for f in (describe.field(row.field) for row in unsettled) if f is not None]
        record = await self.get(context, ref, names, credentials)
        await self._settle(context, describe, ref, unsettled, record)

    async def _settle(
        self,
        context: WorkspaceContext,
        describe: ContactDescribe,
        ref: ContactRef,
        unsettled: list[ContactFieldEdit],
        record: dict[str, Any],
    ) -> None:
        types = {f.name: f.type for f in describe.fields}
        outcome = await edit_history.settle(self._db, unsettled, record, types)
        if outcome != edit_history.Settlement():
            logger.info(
                "contacts.edit.settled",
                extra={
                    "workspace_id": context.workspace_id,
                    "contact_id": ref.contact_id,
                    "applied": outcome.applied,
                    "failed": outcome.failed,
                    "reverted": outcome.reverted,
                    "revert_abandoned": outcome.revert_abandoned,
                },
            )
