"""Edits served from the cached read of the record: one that changes nothing is answered
without a Salesforce call (docs/api-allocation.md), and while the org's change stream keeps
the cached reads current, any other starts from one instead of reading the record first
(`kept_current`, docs/real-time.md).


An agent saving a field with the value it already shows (a double click, a form saved
unchanged, a script) used to cost a read of the record each time: 150 such edits once took an
org from 14,900 to its 15,000 daily requests. When a fresh cached read of the record (a
lookup's answer within `LOOKUP_CACHE_TTL_SECONDS`, kept up to date by every edit and revert)
holds each requested value already, the edit is answered from it: nothing is read, written or
recorded, and the write limits are not asked (it spends nothing). Otherwise the edit reads the
record fresh from Salesforce as before (app.edits.service)."""

from __future__ import annotations

import logging
from typing import Any

from app.db import Database
from app.edits import repository as edit_history
from app.salesforce.values import same_value
from app.workspace.contacts import ContactRef, ContactView, Plan, render_contact
from app.workspace.context import WorkspaceContext
from app.workspace.describes import ContactField
from app.workspace.lookup_cache import LookupCache

logger = logging.getLogger("app.contacts.edits")


async def cached_record(
    lookups: LookupCache, context: WorkspaceContext, plan: Plan, ref: ContactRef
) -> dict[str, Any] | None:
    """The record of the freshest cached read of it holding every selected field, read once
    per edit for `answer_unchanged` and `kept_current`."""
    entry = await lookups.contact_entry(context.workspace_id, ref.contact_id)
    record = entry.record if entry is not None and entry.sobject == ref.sobject else None
    if record is None or any(name not in record for name in plan.selected):
        return None
    return record


async def answer_unchanged(
    db: Database,
    context: WorkspaceContext,
    plan: Plan,
    ref: ContactRef,
    checked: list[tuple[ContactField, Any]],
    record: dict[str, Any] | None,
) -> ContactView | None:
    """The answer to an edit whose values the record already holds, from `record` (its fresh
    cached read); None when there is no such read, a value differs, or an edit of the record
    is still unsettled (its outcome is unknown: only Salesforce can tell)."""
    if record is None:
        return None
    if not all(same_value(f.type, record.get(f.name), value) for f, value in checked):
        return None
    if await edit_history.unsettled(db, ref):
        return None
    revertible = await edit_history.revertible_fields(db, ref)
    logger.info(
        "contacts.edit.unchanged",
        extra={
            "workspace_id": context.workspace_id,
            "contact_id": ref.contact_id,
            "object": ref.sobject,
            "from_cache": True,
        },
    )
    return render_contact(context, plan.fields, record, revertible, ref.sobject)


async def kept_current(
    db: Database, ref: ContactRef, record: dict[str, Any] | None
) -> dict[str, Any] | None:
    """`record` (its fresh cached read) for an edit to start from while the org's change
    stream keeps such reads current (the write's If-Unmodified-Since refuses it if Salesforce
    changed the record since). None when the record must be read from Salesforce: no such
    read, `LastModifiedDate` missing, or an edit still unsettled."""
    if record is None or not record.get("LastModifiedDate"):
        return None
    if await edit_history.unsettled(db, ref):
        return None
    return dict(record)
