"""Change events off the wire: Avro payloads (schemaless, written with the schema named by
the event's `schema_id`) and the changed-field bitmaps of their header.

`changedFields[0]`, when it starts with `0x`, is a hex bitmap over the schema's top-level
fields (bit i = field i in declaration order, the header being field 0); `P-0xHH` elements are
bitmaps over the nested record at top-level position P (compound fields such as Name)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from fastavro import parse_schema, schemaless_reader

CHANGE_TYPES = frozenset(
    {
        "CREATE",
        "UPDATE",
        "DELETE",
        "UNDELETE",
        "GAP_CREATE",
        "GAP_UPDATE",
        "GAP_DELETE",
        "GAP_UNDELETE",
        "GAP_OVERFLOW",
    }
)


@dataclass(frozen=True, slots=True)
class Schema:
    id: str
    parsed: Any
    # Top-level field names in declaration order, and nested ones per top-level position.
    fields: tuple[str, ...]
    nested: dict[int, tuple[str, ...]]


def parse(schema_id: str, schema_json: str) -> Schema:
    raw = json.loads(schema_json)
    fields = tuple(str(f["name"]) for f in raw.get("fields", []))
    nested: dict[int, tuple[str, ...]] = {}
    for position, f in enumerate(raw.get("fields", [])):
        record = _record_of(f.get("type"))
        if record is not None and position > 0:
            nested[position] = tuple(str(n["name"]) for n in record.get("fields", []))
    return Schema(schema_id, parse_schema(raw), fields, nested)


def _record_of(avro_type: Any) -> dict[str, Any] | None:
    if isinstance(avro_type, dict) and avro_type.get("type") == "record":
        return avro_type
    if isinstance(avro_type, list):
        for option in avro_type:
            found = _record_of(option)
            if found is not None:
                return found
    return None


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    entity: str
    change_type: str
    record_ids: tuple[str, ...]
    change_origin: str
    commit_user: str
    commit_timestamp_ms: int
    changed_fields: frozenset[str]  # top-level names, and "Name.FirstName" for nested parts
    nulled_fields: frozenset[str]
    body: dict[str, Any]  # the non-header fields as decoded (unchanged ones are None)

    @property
    def client(self) -> str | None:
        """The `client=` part of changeOrigin: who made the change through the API."""
        for part in self.change_origin.split(";"):
            key, _, value = part.strip().partition("=")
            if key == "client" and value:
                return value
        return None


def decode(schema: Schema, payload: bytes) -> ChangeEvent:
    """One event's payload; ValueError when it does not fit the schema."""
    try:
        record = schemaless_reader(io.BytesIO(payload), schema.parsed, None)
    except (EOFError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"payload does not fit schema {schema.id}") from exc
    if not isinstance(record, dict):
        raise ValueError("payload is not a record")
    header = record.get("ChangeEventHeader") or {}
    change_type = str(header.get("changeType") or "")
    if change_type not in CHANGE_TYPES:
        raise ValueError(f"unknown change type {change_type!r}")
    body = {k: v for k, v in record.items() if k != "ChangeEventHeader"}
    return ChangeEvent(
        entity=str(header.get("entityName") or ""),
        change_type=change_type,
        record_ids=tuple(str(i) for i in header.get("recordIds") or ()),
        change_origin=str(header.get("changeOrigin") or ""),
        commit_user=str(header.get("commitUser") or ""),
        commit_timestamp_ms=int(header.get("commitTimestamp") or 0),
        changed_fields=changed_fields(schema, list(header.get("changedFields") or ())),
        nulled_fields=frozenset(str(n) for n in header.get("nulledFields") or ()),
        body=body,
    )


def changed_fields(schema: Schema, bitmaps: list[str]) -> frozenset[str]:
    """Field names from `changedFields`; names given as such (older API versions) pass."""
    names: set[str] = set()
    for item in bitmaps:
        if item.startswith("0x"):
            names.update(_bits(int(item[2:] or "0", 16), schema.fields))
            continue
        position, sep, bitmap = item.partition("-")
        if sep and position.isdigit() and bitmap.startswith("0x"):
            top = int(position)
            parts = schema.nested.get(top, ())
            if top < len(schema.fields):
                prefix = schema.fields[top]
                names.update(f"{prefix}.{n}" for n in _bits(int(bitmap[2:] or "0", 16), parts))
            continue
        names.add(item)
    names.discard("ChangeEventHeader")
    return frozenset(names)


def _bits(value: int, fields: tuple[str, ...]) -> list[str]:
    return [name for i, name in enumerate(fields) if value >> i & 1]
