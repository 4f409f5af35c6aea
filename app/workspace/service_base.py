"""What every feature service working on a workspace's Salesforce data is built from: the
workspace caches it reads through, the Salesforce client, the credentials and the database
(docs/architecture.md, "How a request flows")."""

from __future__ import annotations

from typing import NotRequired, TypedDict, Unpack

from app.db import Database
from app.salesforce.client import SalesforceClient
from app.workspace.caches import WorkspaceCaches
from app.workspace.context import WorkspaceContext
from app.workspace.tokens import TokenStore
from app.workspace.write_gate import WriteGate


class ServiceParts(TypedDict):
    caches: WorkspaceCaches
    salesforce: SalesforceClient
    tokens: TokenStore
    writes: WriteGate  # what a Salesforce-calling write asks first
    db: NotRequired[Database]  # the caches' database when not given


class WorkspaceService:
    def __init__(self, **parts: Unpack[ServiceParts]) -> None:
        caches = parts["caches"]
        self._db = parts.get("db", caches.contexts.db)
        self._contexts = caches.contexts
        self._describes = caches.describes
        self._lookups = caches.lookups
        self._streaming = caches.streaming
        self._salesforce = parts["salesforce"]
        self._tokens = parts["tokens"]
        self._writes = parts["writes"]

    async def _before_write(self, context: WorkspaceContext) -> None:
        """The one line every Salesforce-calling write runs before its first call: 503 above
        the org's foreground usage threshold, 429 past the workspace's write rate
        (app.workspace.write_gate)."""
        await self._writes.admit(context)
