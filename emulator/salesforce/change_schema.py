"""The change-event schemas of the emulated org (Avro, as Salesforce's Pub/Sub API serves
them): field 0 is `ChangeEventHeader`; then the entity's fields in declaration order, each a
union with null first; the compound `Name` (Salutation, FirstName, LastName) is a nested
record at the position of its first part. Schema ids are a digest of the schema."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastavro import parse_schema

from .fields import SObjectType
from .util import parse_datetime

CHANGE_TYPES = (
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
)
NAME_PARTS = ("Salutation", "FirstName", "LastName")
SKIPPED = {"Id", "IsDeleted"}


def _avro_type(sf_type: str) -> str:
    if sf_type == "boolean":
        return "boolean"
    if sf_type in ("double", "currency", "percent", "int"):
        return "double"
    if sf_type == "datetime":
        return "long"
    if sf_type == "date":
        return "int"
    return "string"


HEADER = {
    "type": "record",
    "name": "ChangeEventHeader",
    "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": {"type": "array", "items": "string"}},
        {
            "name": "changeType",
            "type": {"type": "enum", "name": "ChangeType", "symbols": list(CHANGE_TYPES)},
        },
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
        {"name": "diffFields", "type": {"type": "array", "items": "string"}},
        {"name": "changedFields", "type": {"type": "array", "items": "string"}},
    ],
}


@dataclass(frozen=True)
class EntitySchema:
    """An entity's change-event schema: JSON, id, parsed form, and the top-level layout
    (each position: a field name, or ("Name", parts) for the compound name)."""

    entity: str
    json: str
    id: str
    parsed: Any
    layout: tuple[str | tuple[str, tuple[str, ...]], ...]
    types: dict[str, str]


def build_schema(t: SObjectType) -> EntitySchema:
    fields: list[dict[str, Any]] = [{"name": "ChangeEventHeader", "type": HEADER}]
    layout: list[str | tuple[str, tuple[str, ...]]] = ["ChangeEventHeader"]
    types: dict[str, str] = {}
    names = {f.name for f in t.fields}
    compound = all(part in names for part in NAME_PARTS)
    for f in t.fields:
        if f.name in SKIPPED or f.compute is not None or f.name == "Name":
            continue
        types[f.name] = _avro_type(f.type)
        if compound and f.name in NAME_PARTS:
            if "Name" in [p[0] for p in layout if isinstance(p, tuple)]:
                continue
            parts = [
                {"name": part, "type": ["null", "string"], "default": None} for part in NAME_PARTS
            ]
            record = {"type": "record", "name": "Switchable_PersonName", "fields": parts}
            fields.append({"name": "Name", "type": ["null", record], "default": None})
            layout.append(("Name", NAME_PARTS))
            continue
        fields.append({"name": f.name, "type": ["null", types[f.name]], "default": None})
        layout.append(f.name)
    schema = {
        "type": "record",
        "name": f"{t.name}ChangeEvent",
        "namespace": "com.sforce.eventbus",
        "fields": fields,
    }
    text = json.dumps(schema, separators=(",", ":"))
    schema_id = hashlib.sha256(text.encode()).hexdigest()[:22]
    return EntitySchema(t.name, text, schema_id, parse_schema(schema), tuple(layout), types)


def value_of(sf_type: str, value: Any) -> Any:
    """A record value in the Avro type of its field (datetime: epoch ms, date: days)."""
    if value is None:
        return None
    if sf_type == "long":
        moment = parse_datetime(value) if isinstance(value, str) else None
        return int(moment.timestamp() * 1000) if moment else None
    if sf_type == "int":
        try:
            return (date.fromisoformat(str(value)) - date(1970, 1, 1)).days
        except ValueError:
            return None
    if sf_type == "double":
        return float(value)
    if sf_type == "boolean":
        return bool(value)
    return str(value)
