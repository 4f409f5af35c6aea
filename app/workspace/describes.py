"""Object describes (Contact, Lead), cached per connection and object and revalidated with
If-Modified-Since.

A describe is large and changes rarely: it is fetched once per connection, trusted for
`fields_cache_ttl_seconds` (`fields_cache_ttl_streaming_seconds` while the org's change
stream is healthy), then revalidated (a 304 costs no parsing). If Salesforce is
rate-limited or unavailable at revalidation time, the describe already held is used.
With a `DescribeStore` (app.workspace.describe_store) the describe and its revalidation are
shared by every process: each keeps a parsed copy, and one of them revalidates per TTL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal

from app.kit.clocks import Clock, Now, monotonic, utc_now
from app.kit.singleflight import SingleFlight
from app.salesforce.client import SalesforceClient
from app.salesforce.errors import RequestLimitExceeded, SalesforceUnavailable
from app.salesforce.hooks import Credentials
from app.workspace.context import ContextChanged, WorkspaceContext
from app.workspace.describe_store import DescribeStore, StoredDescribe
from app.workspace.tokens import TokenStore

NOT_EDITABLE_TYPES = frozenset({"email", "phone"})
DESCRIBE_MAX_CONNECTIONS = 10_000

# The objects the service reads and shows: a Contact, or (when enabled) an unconverted Lead.
SObject = Literal["Contact", "Lead"]
SOBJECTS: tuple[SObject, ...] = ("Contact", "Lead")
# Every object whose describe the service reads: those two, and the records shown around a
# Contact (docs/whole-customer.md).
Described = Literal["Contact", "Lead", "Account", "Opportunity", "Case"]


@dataclass(frozen=True, slots=True)
class PicklistValue:
    value: str
    label: str
    active: bool


@dataclass(frozen=True, slots=True)
class ContactField:
    name: str
    label: str
    type: str
    updateable: bool
    nillable: bool
    length: int
    picklist_values: tuple[PicklistValue, ...] = ()
    restricted_picklist: bool = False
    precision: int = 0
    scale: int = 0
    createable: bool = False
    # Salesforce fills the field on create when it is not given (a default picklist value,
    # the owner, a checkbox's default).
    defaulted_on_create: bool = False
    default_value: str | None = None

    @property
    def editable(self) -> bool:
        return self.updateable and self.type not in NOT_EDITABLE_TYPES


class ContactDescribe:
    """One object's fields (Contact or Lead, despite the name), in describe order, found by
    name case-insensitively."""

    __slots__ = ("_by_name", "fields")

    def __init__(self, fields: tuple[ContactField, ...]) -> None:
        self.fields = fields
        self._by_name = {f.name.lower(): f for f in fields}

    def field(self, name: str) -> ContactField | None:
        return self._by_name.get(name.lower())

    @classmethod
    def parse(cls, describe: dict[str, Any]) -> ContactDescribe:
        fields = []
        for raw in describe.get("fields") or []:
            if not isinstance(raw, dict) or not raw.get("name"):
                continue
            fields.append(
                ContactField(
                    name=str(raw["name"]),
                    label=str(raw.get("label") or raw["name"]),
                    type=str(raw.get("type") or "string"),
                    updateable=bool(raw.get("updateable")),
                    nillable=bool(raw.get("nillable")),
                    length=int(raw.get("length") or 0),
                    restricted_picklist=bool(raw.get("restrictedPicklist")),
                    precision=int(raw.get("precision") or 0),
                    scale=int(raw.get("scale") or 0),
                    createable=bool(raw.get("createable")),
                    defaulted_on_create=bool(raw.get("defaultedOnCreate")),
                    default_value=_default_value(raw),
                    picklist_values=tuple(
                        PicklistValue(
                            value=str(p.get("value")),
                            label=str(p.get("label") or p.get("value")),
                            active=bool(p.get("active", True)),
                        )
                        for p in raw.get("picklistValues") or []
                        if isinstance(p, dict) and p.get("value") is not None
                    ),
                )
            )
        return cls(tuple(fields))


def _default_value(raw: dict[str, Any]) -> str | None:
    """The field's default, or its default picklist value (where Salesforce keeps it)."""
    if isinstance(raw.get("defaultValue"), str):
        return str(raw["defaultValue"])
    for p in raw.get("picklistValues") or []:
        if isinstance(p, dict) and p.get("defaultValue") and p.get("value") is not None:
            return str(p["value"])
    return None


_Key = tuple[str, uuid.UUID, Described]


@dataclass(slots=True)
class _Held:
    describe: ContactDescribe
    last_modified: str | None
    checked_at: float


@dataclass(eq=False, repr=False)
class DescribeCache:
    salesforce: SalesforceClient
    tokens: TokenStore
    _: KW_ONLY
    ttl_seconds: float
    # How long the workspace's describe is trusted, when it depends on the workspace (longer
    # while its org's change stream is healthy); `ttl_seconds` otherwise.
    ttl_for: Callable[[str], float] | None = None
    store: DescribeStore | None = None
    clock: Clock = monotonic
    now: Now = utc_now
    # Workspaces whose shared describe must be revalidated even if it looks fresh: a
    # query named a field Salesforce no longer has (the moment it was found out).
    _distrusted: dict[str, datetime] = field(init=False, default_factory=dict)
    _held: dict[_Key, _Held] = field(init=False, default_factory=dict)
    _loads: SingleFlight[_Key, ContactDescribe] = field(init=False, default_factory=SingleFlight)
    _generation: dict[str, int] = field(init=False, default_factory=dict)

    async def get(
        self, context: WorkspaceContext, sobject: Described = "Contact"
    ) -> ContactDescribe:
        """The connection's describe of `sobject`; the caller has checked the workspace is
        connected."""
        assert context.connection_id is not None
        return await self.get_for(context.workspace_id, context.connection_id, sobject)

    async def get_for(
        self, workspace_id: str, connection_id: uuid.UUID, sobject: Described = "Contact"
    ) -> ContactDescribe:
        """The describe of this connection of the workspace (ContextChanged if it is not the
        workspace's current one)."""
        key: _Key = (workspace_id, connection_id, sobject)
        held = self._held.get(key)
        if held is not None and self.clock() - held.checked_at < self._ttl(workspace_id):
            return held.describe
        generation = self._generation.get(workspace_id, 0)
        refresh = self._refresh if self.store is None else self._refresh_shared
        return await self._loads.run(key, partial(refresh, key, held, generation))

    def _ttl(self, workspace_id: str) -> float:
        return self.ttl_seconds if self.ttl_for is None else self.ttl_for(workspace_id)

    def distrust(self, workspace_id: str) -> None:
        """Forget the workspace's describe and revalidate the shared one on the next read."""
        self._distrusted[workspace_id] = self.now()
        self.purge_workspace(workspace_id)

    def _fresh(self, workspace_id: str, stored: StoredDescribe | None) -> bool:
        if stored is None:
            return False
        distrusted = self._distrusted.get(workspace_id)
        if distrusted is not None and stored.checked_at <= distrusted:
            return False
        return (self.now() - stored.checked_at).total_seconds() < self._ttl(workspace_id)

    async def _refresh_shared(
        self, key: _Key, held: _Held | None, generation: int
    ) -> ContactDescribe:
        assert self.store is not None
        workspace_id, connection_id, sobject = key
        stored = await self.store.read(connection_id, sobject)
        if not self._fresh(workspace_id, stored):
            async with self.store.lock(connection_id, sobject):
                stored = await self.store.read(connection_id, sobject)
                if not self._fresh(workspace_id, stored):
                    stored = await self._revalidate_shared(key, stored, held)
        assert stored is not None
        if held is not None and held.last_modified == stored.last_modified and stored.last_modified:
            describe = held.describe
        else:
            describe = ContactDescribe.parse(stored.body)
        if self._generation.get(workspace_id, 0) != generation:
            return describe
        age = max(0.0, (self.now() - stored.checked_at).total_seconds())
        self._keep(key, _Held(describe, stored.last_modified, self.clock() - age))
        return describe

    async def _revalidate_shared(
        self, key: _Key, stored: StoredDescribe | None, held: _Held | None
    ) -> StoredDescribe:
        assert self.store is not None
        workspace_id, connection_id, sobject = key
        credentials = await self._credentials(key)
        distrusted = self._distrusted.get(workspace_id)
        # Distrusted: read it whole. Field-level security changes what a user's describe
        # shows without changing its Last-Modified, so a 304 would keep the stale one.
        whole = distrusted is not None and stored is not None and stored.checked_at <= distrusted
        try:
            since = stored.last_modified if stored and not whole else None
            raw, last_modified = await self._download(key, credentials, since, stored is not None)
        except (RequestLimitExceeded, SalesforceUnavailable):
            if stored is not None:
                return stored  # revalidate again on the next read
            raise
        body = raw if raw is not None else (stored.body if stored else {})
        fresh = StoredDescribe(body or {}, last_modified, self.now())
        await self.store.write(workspace_id, connection_id, sobject, fresh)
        return fresh

    def _keep(self, key: _Key, held: _Held) -> None:
        if len(self._held) >= DESCRIBE_MAX_CONNECTIONS and key not in self._held:
            self._held.pop(next(iter(self._held)))
        self._held[key] = held

    async def _credentials(self, key: _Key) -> Credentials:
        """The workspace's credentials, if they are still those of the key's connection."""
        credentials = await self.tokens.credentials(key[0])
        if credentials.connection_id != key[1]:
            raise ContextChanged()
        return credentials

    async def _download(
        self, key: _Key, credentials: Credentials, since: str | None, holding: bool
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The describe if it changed since `since` (None: unchanged, and the caller is
        `holding` it); a 304 for a describe the caller does not hold is fetched whole."""
        workspace_id, _, sobject = key
        raw, last_modified = await self.salesforce.describe_sobject(
            workspace_id, sobject, if_modified_since=since, credentials=credentials
        )
        if raw is None and not holding:
            raw, last_modified = await self.salesforce.describe_sobject(
                workspace_id, sobject, credentials=credentials
            )
        return raw, last_modified

    async def _refresh(self, key: _Key, held: _Held | None, generation: int) -> ContactDescribe:
        workspace_id = key[0]
        credentials = await self._credentials(key)
        try:
            since = held.last_modified if held else None
            raw, last_modified = await self._download(key, credentials, since, held is not None)
        except (RequestLimitExceeded, SalesforceUnavailable):
            if held is None:
                raise
            return held.describe  # revalidate again on the next call
        if raw is None and held is not None:
            describe = held.describe
        else:
            describe = ContactDescribe.parse(raw or {})
        if self._generation.get(workspace_id, 0) != generation:
            return describe  # purged meanwhile: answer, but keep nothing
        self._keep(key, _Held(describe, last_modified, self.clock()))
        return describe

    def purge_workspace(self, workspace_id: str) -> None:
        self._generation[workspace_id] = self._generation.get(workspace_id, 0) + 1
        for key in [k for k in self._held if k[0] == workspace_id]:
            del self._held[key]
        self._loads.forget_where(lambda key: key[0] == workspace_id)
