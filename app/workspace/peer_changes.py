"""Changes this process makes to its cached lookup answers, told to the other processes
through PostgreSQL, for replicas that share no cache (no `CACHE_URL`).

With Redis the answers are shared and purges travel on its pub/sub bus (app.workspace.bus).
Without it each replica caches on its own; a change made through the service (an edit or
revert: `update_contact`; a record created: `forget_identifiers`; a record found gone:
`invalidate_contact`; connect, disconnect, settings: `purge_workspace`) used to reach another
replica only when that replica's answer expired. While an org streams, answers live an hour
and the stream skips the service's own writes (`changeOrigin`), so that became an hour of the
old value, and edits there starting from it. Now, after applying a change locally, the
process sends `NOTIFY sfint_change_stream` (the channel the stream's record changes use,
app.workspace.stream_state) naming itself as the sender; every other process's
`StreamListener` drops the answers concerned (the changed record's, the identifiers', or the
workspace's), and the sender ignores its own message. An edit on one replica thus costs the
others one lookup call each, on their next lookup of that contact.

The message goes after the local change, in its own short transaction. If PostgreSQL cannot
take it, the change still stands (Salesforce has it) and is logged; the other replicas then
see it when their answers expire, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Unpack

from app.db import Database
from app.workspace.lookup_cache import (
    CacheResult,
    ContactChange,
    Loader,
    LookupCache,
    LookupEntry,
    LookupKey,
    StaleOn,
)
from app.workspace.stream_state import payloads, send

logger = logging.getLogger("app.contacts.cache")


@dataclass(eq=False)
class PeerNotifyingLookupCache:
    """`local`, with every change also told to the other processes."""

    local: LookupCache
    db: Database
    sender: str

    async def get(self, key: LookupKey) -> LookupEntry | None:
        return await self.local.get(key)

    async def set(self, key: LookupKey, entry: LookupEntry) -> None:
        await self.local.set(key, entry)

    async def fetch(self, key: LookupKey, load: Loader, *, stale_on: StaleOn = ()) -> CacheResult:
        return await self.local.fetch(key, load, stale_on=stale_on)

    async def contact_entry(self, workspace_id: str, contact_id: str) -> LookupEntry | None:
        return await self.local.contact_entry(workspace_id, contact_id)

    async def invalidate_contact(self, workspace_id: str, contact_id: str) -> None:
        await self.local.invalidate_contact(workspace_id, contact_id)
        await self._tell(workspace_id, record_ids=[contact_id])

    async def update_contact(
        self, workspace_id: str, record: dict[str, Any], **change: Unpack[ContactChange]
    ) -> None:
        await self.local.update_contact(workspace_id, record, **change)
        if record.get("Id"):
            await self._tell(workspace_id, record_ids=[str(record["Id"])])

    async def forget_identifiers(self, workspace_id: str, identifiers: frozenset[str]) -> None:
        await self.local.forget_identifiers(workspace_id, identifiers)
        if identifiers:
            await self._tell(workspace_id, identifiers=sorted(identifiers))

    async def purge_workspace(self, workspace_id: str) -> None:
        await self.local.purge_workspace(workspace_id)
        await self._tell(workspace_id, purge=True)

    async def _tell(
        self,
        workspace_id: str,
        *,
        record_ids: Sequence[str] = (),
        identifiers: Sequence[str] = (),
        purge: bool = False,
    ) -> None:
        messages = payloads(
            "", [workspace_id], record_ids, identifiers, purge=purge, sender=self.sender
        )
        try:
            async with self.db.transaction() as session:
                await send(session, messages)
        except Exception as exc:  # noqa: BLE001 - the change stands; peers see it at expiry
            logger.warning(
                "cache.peers.not_told",
                extra={"workspace_id": workspace_id, "error": type(exc).__name__},
            )
