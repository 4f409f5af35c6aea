"""Object describes (Contact, Lead), cached per connection and object and revalidated with
If-Modified-Since.

A describe is large and changes rarely: it is fetched once per connection, trusted for
`fields_cache_ttl_seconds`, then revalidated (a 304 costs no parsing). If Salesforce is
rate-limited or unavailable at revalidation time, the describe already held is used.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from app.kit.clocks import Clock, monotonic
from app.kit.singleflight import SingleFlight
from app.salesforce.client import SalesforceClient
from app.salesforce.errors import RequestLimitExceeded, SalesforceUnavailable
from app.workspace.context import ContextChanged, WorkspaceContext
from app.workspace.tokens import TokenStore

NOT_EDITABLE_TYPES = frozenset({"email", "phone"})
DESCRIBE_MAX_CONNECTIONS = 10_000

# The objects the service reads and shows: a Contact, or (when enabled) an unconverted Lead.
SObject = Literal["Contact", "Lead"]
SOBJECTS: tuple[SObject, ...] = ("Contact", "Lead")


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


_Key = tuple[str, uuid.UUID, SObject]


@dataclass(slots=True)
class _Held:
    describe: ContactDescribe
    last_modified: str | None
    checked_at: float


class DescribeCache:
    def __init__(
        self,
        salesforce: SalesforceClient,
        tokens: TokenStore,
        *,
        ttl_seconds: float,
        clock: Clock = monotonic,
    ) -> None:
        self._salesforce = salesforce
        self._tokens = tokens
        self._ttl = ttl_seconds
        self._clock = clock
        self._held: dict[_Key, _Held] = {}
        self._loads: SingleFlight[_Key, ContactDescribe] = SingleFlight()
        self._generation: dict[str, int] = {}

    async def get(self, context: WorkspaceContext, sobject: SObject = "Contact") -> ContactDescribe:
        """The connection's describe of `sobject`; the caller has checked the workspace is
        connected."""
        assert context.connection_id is not None
        key = (context.workspace_id, context.connection_id, sobject)
        held = self._held.get(key)
        if held is not None and self._clock() - held.checked_at < self._ttl:
            return held.describe
        generation = self._generation.get(context.workspace_id, 0)
        return await self._loads.run(key, partial(self._refresh, key, held, generation))

    async def _refresh(self, key: _Key, held: _Held | None, generation: int) -> ContactDescribe:
        workspace_id, connection_id, sobject = key
        credentials = await self._tokens.credentials(workspace_id)
        if credentials.connection_id != connection_id:
            raise ContextChanged()
        try:
            raw, last_modified = await self._salesforce.describe_sobject(
                workspace_id,
                sobject,
                if_modified_since=held.last_modified if held else None,
                credentials=credentials,
            )
        except (RequestLimitExceeded, SalesforceUnavailable):
            if held is None:
                raise
            return held.describe  # revalidate again on the next call
        if raw is None and held is not None:
            describe = held.describe
        elif raw is None:  # a 304 for a describe we no longer hold: fetch it whole
            raw, last_modified = await self._salesforce.describe_sobject(
                workspace_id, sobject, credentials=credentials
            )
            describe = ContactDescribe.parse(raw or {})
        else:
            describe = ContactDescribe.parse(raw)
        if self._generation.get(workspace_id, 0) != generation:
            return describe  # purged meanwhile: answer, but keep nothing
        if len(self._held) >= DESCRIBE_MAX_CONNECTIONS and key not in self._held:
            self._held.pop(next(iter(self._held)))
        self._held[key] = _Held(describe, last_modified, self._clock())
        return describe

    def purge_workspace(self, workspace_id: str) -> None:
        self._generation[workspace_id] = self._generation.get(workspace_id, 0) + 1
        for key in [k for k in self._held if k[0] == workspace_id]:
            del self._held[key]
        self._loads.forget_where(lambda key: key[0] == workspace_id)
