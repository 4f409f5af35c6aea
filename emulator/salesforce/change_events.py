"""Change Data Capture in the emulated org: every write to a Contact or a Lead (REST API,
admin endpoints, seed) becomes a change event in the org's event log, Avro-encoded with the
entity's change-event schema, as Salesforce's Pub/Sub API delivers them.

What it follows from Salesforce:
- The schema: field 0 is `ChangeEventHeader`; then the entity's fields in declaration order,
  each a union with null first; the compound `Name` (Salutation, FirstName, LastName) is a
  nested record at the position of its first part.
- CREATE bodies carry every non-null field; UPDATE bodies only the changed ones, and
  `changedFields[0]` is a hex bitmap over the top-level fields (bit i = field i, header = 0),
  `P-0xHH` a bitmap over the nested record at position P; `nulledFields` names fields set to
  null. DELETE carries the header only; UNDELETE, like CREATE, every non-null field of the
  restored record.
- `changeOrigin` is `com/salesforce/api/rest/<version>;client=<name>` when the writing REST
  call carried `Sforce-Call-Options: client=<name>`, else empty.
- Replay ids are opaque bytes (8 bytes here, big-endian counter per org).

A custom field an admin adds to Contact or Lead (SalesforceEmulator.add_custom_field) gives
the org's events of that entity a new schema, with a new id, as Salesforce does: events
published from then on are written with it, earlier ones keep theirs.

Per-org switches (tests, the admin API): which entities are selected (an unselected topic is
NOT_FOUND), replay ids expired (every id handed out so far is refused), streams dropped, a
delivery allocation.
"""

from __future__ import annotations

import contextvars
import io
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastavro import schemaless_writer

from .change_schema import SKIPPED, EntitySchema, build_schema, value_of
from .fields import SObjectType
from .util import parse_datetime

ENTITIES = ("Contact", "Lead")
# Fields every write touches: alone they are not a change worth an event.
SYSTEM = {"LastModifiedDate", "SystemModstamp", "LastModifiedById", "LastViewedDate"}
API_VERSION = "62.0"
# The change types whose body carries field values (the others: the header alone).
WITH_VALUES = ("CREATE", "UPDATE", "UNDELETE")

# The client named by the current REST call's `Sforce-Call-Options: client=...` (set by the
# emulator's middleware for the duration of the request).
CALL_CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sforce_call_client", default=None
)


def client_of(call_options: str | None) -> str | None:
    """`client=name` of a Sforce-Call-Options header value (comma-separated key=value)."""
    for part in (call_options or "").split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "client" and value.strip():
            return value.strip()
    return None


def topic_of(entity: str) -> str:
    return f"/data/{entity}ChangeEvent"


def entity_of(topic: str) -> str | None:
    for entity in ENTITIES:
        if topic == topic_of(entity):
            return entity
    return None


def replay_bytes(number: int) -> bytes:
    return number.to_bytes(8, "big")


def replay_number(raw: bytes) -> int | None:
    return int.from_bytes(raw, "big") if len(raw) == 8 else None


@dataclass
class Event:
    number: int
    entity: str
    event_id: str
    schema_id: str
    payload: bytes


@dataclass
class OrgLog:
    """One org's change events and switches."""

    events: list[Event] = field(default_factory=list)
    next_number: int = 1
    expired_below: int = 0  # CUSTOM replay ids below this are refused
    selected: set[str] = field(default_factory=lambda: set(ENTITIES))
    delivery_allocation: int | None = None
    delivered: int = 0
    drops: int = 0  # bumped to end every open stream of the org
    last_seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    listeners: set[Callable[[], None]] = field(default_factory=set)
    # The org's own change-event schemas, once its admin added fields (else the default).
    schemas: dict[str, EntitySchema] = field(default_factory=dict)

    @property
    def last_number(self) -> int:
        return self.next_number - 1

    def __getstate__(self) -> dict[str, Any]:
        """Kept across restarts (emulator/persistence.py) without the open streams."""
        return {k: v for k, v in self.__dict__.items() if k != "listeners"}

    def __setstate__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.listeners = set()
        self.__dict__.setdefault("schemas", {})  # saved by an older emulator


class ChangeEvents:
    """Every org's change-event log. Thread-safe: the REST thread writes, the gRPC thread
    reads."""

    RETAINED = 50_000  # events kept per org (Salesforce keeps 72 hours)

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._logs: dict[str, OrgLog] = {}
        self.schemas = {name: build_schema(_sobject(name)) for name in ENTITIES}
        self.by_schema_id = {s.id: s for s in self.schemas.values()}
        self._commit = 0

    def log(self, org_id: str) -> OrgLog:
        with self._lock:
            return self._logs.setdefault(org_id[:15], OrgLog())

    def schema_for(self, org_id: str, entity: str) -> EntitySchema:
        """The schema the org's events of `entity` are written with now (GetTopic's)."""
        with self._lock:
            return self.log(org_id).schemas.get(entity) or self.schemas[entity]

    def change_schema(self, org_id: str, t: SObjectType) -> EntitySchema | None:
        """The org's object now has these fields (an admin added one): its events are written
        with a new schema, under a new id, from now on; earlier events keep theirs, and every
        schema stays served by GetSchema. None for an object without change events."""
        if t.name not in ENTITIES:
            return None
        schema = build_schema(t)
        with self._lock:
            self.log(org_id).schemas[t.name] = schema
            self.by_schema_id.setdefault(schema.id, schema)
        return schema

    # -- recording -------------------------------------------------------------------------

    def record_write(self, org_id: str, t: SObjectType, rec: dict[str, Any]) -> None:
        """Called after every write of a record: publish what changed since the last write."""
        if t.name not in ENTITIES:
            return
        with self._lock:
            log = self.log(org_id)
            previous = log.last_seen.get(rec["Id"])
            current = dict(rec)
            log.last_seen[rec["Id"]] = current
            deleted = bool(current.get("IsDeleted"))
            if previous is None:
                if not deleted:
                    self._publish(log, t.name, "CREATE", current, changed=None)
                return
            was_deleted = bool(previous.get("IsDeleted"))
            if deleted and not was_deleted:
                self._publish(log, t.name, "DELETE", current, changed=None)
                return
            if was_deleted and not deleted:
                self._publish(log, t.name, "UNDELETE", current, changed=None)
                return
            changed = {
                name
                for name in set(previous) | set(current)
                if previous.get(name) != current.get(name) and name not in SKIPPED
            }
            if changed - SYSTEM:
                self._publish(log, t.name, "UPDATE", current, changed=changed)

    def publish_gap(self, org_id: str, entity: str, change_type: str, ids: list[str]) -> None:
        """A gap event (header and ids only), as Salesforce sends when it cannot build one."""
        with self._lock:
            log = self.log(org_id)
            record = {"Id": ids[0] if ids else "", "LastModifiedById": ""}
            self._publish(log, entity, change_type, record, changed=None, ids=ids)

    def _publish(
        self,
        log: OrgLog,
        entity: str,
        change_type: str,
        rec: dict[str, Any],
        *,
        changed: set[str] | None,
        ids: list[str] | None = None,
    ) -> None:
        schema = log.schemas.get(entity) or self.schemas[entity]
        self._commit += 1
        body: dict[str, Any] = {}
        nulled: list[str] = []
        bits = 0
        name_bits = 0
        name_position = 0
        for position, item in enumerate(schema.layout):
            if position == 0:
                continue
            if isinstance(item, tuple):
                name_position = position
                parts = item[1]
                include = [p for p in parts if changed is None or p in changed]
                if change_type not in WITH_VALUES or not include:
                    continue
                values = {p: rec.get(p) if p in include else None for p in parts}
                body["Name"] = values
                for i, part in enumerate(parts):
                    if part in include:
                        name_bits |= 1 << i
                        if rec.get(part) is None and changed is not None:
                            nulled.append(f"Name.{part}")
                bits |= 1 << position
                continue
            if change_type not in WITH_VALUES:
                continue
            if changed is not None and item not in changed:
                continue
            value = value_of(schema.types[item], rec.get(item))
            body[item] = value
            if changed is not None:
                bits |= 1 << position
                if value is None:
                    nulled.append(item)
        changed_fields: list[str] = []
        if changed is not None and bits:
            changed_fields.append(f"0x{bits:X}")
            if name_bits:
                changed_fields.append(f"{name_position}-0x{name_bits:X}")
        client = CALL_CLIENT.get()
        header = {
            "entityName": entity,
            "recordIds": ids if ids is not None else [rec["Id"]],
            "changeType": change_type,
            "changeOrigin": f"com/salesforce/api/rest/{API_VERSION};client={client}"
            if client
            else "",
            "transactionKey": uuid.uuid4().hex,
            "sequenceNumber": 1,
            "commitTimestamp": _epoch_ms(rec.get("LastModifiedDate")),
            "commitNumber": self._commit,
            "commitUser": str(rec.get("LastModifiedById") or ""),
            "nulledFields": nulled,
            "diffFields": [],
            "changedFields": changed_fields,
        }
        out = io.BytesIO()
        schemaless_writer(out, schema.parsed, {"ChangeEventHeader": header, **body})
        log.events.append(
            Event(log.next_number, entity, str(uuid.uuid4()), schema.id, out.getvalue())
        )
        log.next_number += 1
        if len(log.events) > self.RETAINED:
            del log.events[: len(log.events) - self.RETAINED]
        for wake in list(log.listeners):
            wake()

    # -- reading (the gRPC server) -----------------------------------------------------------

    def after(self, org_id: str, entity: str, number: int, limit: int) -> list[Event]:
        """Up to `limit` events of the entity with a replay number above `number`."""
        with self._lock:
            out = []
            for event in self.log(org_id).events:
                if event.number > number and event.entity == entity:
                    out.append(event)
                    if len(out) >= limit:
                        break
            return out

    # -- switches --------------------------------------------------------------------------

    def select(self, org_id: str, entity: str, selected: bool) -> None:
        with self._lock:
            log = self.log(org_id)
            if selected:
                log.selected.add(entity)
            else:
                log.selected.discard(entity)

    def expire_replay_ids(self, org_id: str) -> None:
        """Every replay id handed out so far is no longer kept (as after 72 hours)."""
        with self._lock:
            log = self.log(org_id)
            log.expired_below = log.next_number
            log.events.clear()

    def drop_streams(self, org_id: str) -> None:
        with self._lock:
            log = self.log(org_id)
            log.drops += 1
            for wake in list(log.listeners):
                wake()

    def set_allocation(self, org_id: str, allocation: int | None) -> None:
        with self._lock:
            log = self.log(org_id)
            log.delivery_allocation = allocation
            log.delivered = 0


def _epoch_ms(value: Any) -> int:
    moment = parse_datetime(value) if isinstance(value, str) else None
    return int(moment.timestamp() * 1000) if moment else 0


def _sobject(name: str) -> SObjectType:
    from .schema import sobject

    t = sobject(name)
    assert t is not None
    return t
