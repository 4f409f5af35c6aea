"""A Case opened from the inbox (docs/whole-customer.md): read back once so the agent sees
what Salesforce gave it, and put among the Contact's cached open Cases at once."""

from __future__ import annotations

import logging
from typing import Any

from app.salesforce.client import Credentials, SalesforceClient
from app.salesforce.errors import SalesforceError
from app.workspace.contacts import RecordView, record_view
from app.workspace.context import WorkspaceContext
from app.workspace.describes import ContactDescribe
from app.workspace.lookup_cache import LookupCache, NewCase

logger = logging.getLogger("app.writeback.case")


async def read_back_case(
    salesforce: SalesforceClient,
    context: WorkspaceContext,
    describe: ContactDescribe,
    record_id: str,
    values: dict[str, Any],
    credentials: Credentials | None,
) -> tuple[RecordView, bool | None]:
    """The new Case with the fields the lookup shows of Cases (its CaseNumber, default
    Status), and whether it is open (None: the read-back failed; the view then shows the
    values written)."""
    shown = [f for f in (describe.field(n) for n in context.settings.related.cases.fields) if f]
    wanted = ["Id", *(f.name for f in shown)]
    if describe.field("IsClosed") is not None:
        wanted.append("IsClosed")
    record: dict[str, Any] = {"Id": record_id, **values}
    is_open: bool | None = None
    try:
        record = await salesforce.get_record(
            context.workspace_id,
            "Case",
            record_id,
            list(dict.fromkeys(wanted)),
            credentials=credentials,
            purpose="create",
        )
        is_open = record.get("IsClosed") is False
    except SalesforceError:
        logger.warning(
            "writeback.case.read_back_failed",
            extra={"workspace_id": context.workspace_id, "record_id": record_id},
        )
    return record_view(context.instance_url, "Case", shown, {**record, "Id": record_id}), is_open


async def show_new_case(
    lookups: LookupCache,
    context: WorkspaceContext,
    contact_id: str,
    view: RecordView,
    is_open: bool | None,
) -> None:
    """Every cached answer holding the Contact (every replica) shows the Case first among its
    open ones, without asking Salesforce again; when the Case could not be read back, those
    answers are dropped instead (the next lookup reads the Cases)."""
    workspace_id = context.workspace_id
    if is_open is None:
        await lookups.invalidate_contact(workspace_id, contact_id)
        return
    if not is_open:
        return  # opened closed: the open Cases are as they were
    record = {"Id": view.id, **{f.name: f.value for f in view.fields}}
    limit = context.settings.related.cases.limit
    await lookups.update_contact(workspace_id, {"Id": contact_id}, new_case=NewCase(record, limit))
