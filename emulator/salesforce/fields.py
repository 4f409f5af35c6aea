"""Field and object metadata (the keys of Salesforce's DescribeSObjectResult / Field)
and the helpers the object schemas are built from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "email": "xsd:string",
    "phone": "xsd:string",
    "picklist": "xsd:string",
    "url": "xsd:string",
    "combobox": "xsd:string",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
}
TEXT_TYPES = {"string", "textarea", "email", "phone", "picklist", "url", "combobox"}
# Objects an admin may add custom fields to (SalesforceEmulator.add_custom_field), and the
# field types offered, with their default (and largest) length: none with a default value
# (a checkbox), which Salesforce would write into every existing record.
CUSTOMIZABLE = ("Contact", "Lead", "Task", "Account", "Opportunity", "Case")
CUSTOM_TYPES: dict[str, tuple[int, int]] = {
    "string": (255, 255),
    "textarea": (255, 255),
    "email": (80, 80),
    "phone": (40, 40),
    "url": (255, 255),
    "double": (0, 0),
    "date": (0, 0),
    "datetime": (0, 0),
}
_CUSTOM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__c")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str
    length: int = 0
    updateable: bool = True
    createable: bool = True
    nillable: bool = True
    calculated: bool = False
    custom: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    reference_to: tuple[str, ...] = ()
    formula: str | None = None
    compute: Callable[[dict[str, Any]], Any] | None = None
    precision: int = 0
    scale: int = 0
    name_field: bool = False
    external_id: bool = False
    unique: bool = False

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and self.default is None


@dataclass
class SObjectType:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: list[Field] = field(default_factory=list)
    updateable: bool = True
    createable: bool = True
    deletable: bool = True

    def __post_init__(self) -> None:
        self.by_lower = {f.name.lower(): f for f in self.fields}

    def field(self, name: str) -> Field | None:
        return self.by_lower.get(name.lower())


def full_name(rec: dict[str, Any]) -> str | None:
    parts = [p for p in (rec.get("FirstName"), rec.get("LastName")) if p]
    return " ".join(parts) or None


def read_only(name: str, label: str, type_: str, **kw: Any) -> Field:
    return Field(name, label, type_, updateable=False, createable=False, **kw)


def identity_fields(id_label: str) -> list[Field]:
    """`Id` and `IsDeleted`, first in every stored object."""
    return [
        read_only("Id", id_label, "id", length=18, nillable=False),
        read_only("IsDeleted", "Deleted", "boolean", nillable=False, default=False),
    ]


def owner(*targets: str) -> Field:
    """`OwnerId`, the creating user by default."""
    return Field(
        "OwnerId",
        "Owner ID",
        "reference",
        length=18,
        nillable=False,
        default="$user",
        reference_to=targets,
    )


def audit_fields() -> list[Field]:
    return [
        read_only("CreatedDate", "Created Date", "datetime", nillable=False),
        read_only("CreatedById", "Created By ID", "reference", length=18, reference_to=("User",)),
        read_only("LastModifiedDate", "Last Modified Date", "datetime", nillable=False),
        read_only(
            "LastModifiedById",
            "Last Modified By ID",
            "reference",
            length=18,
            reference_to=("User",),
        ),
        read_only("SystemModstamp", "System Modstamp", "datetime", nillable=False),
    ]


def phone(name: str, label: str) -> Field:
    return Field(name, label, "phone", length=40)


def custom_field(
    name: str, field_type: str, label: str | None = None, length: int | None = None
) -> Field:
    """A custom field as Setup makes it: `Name__c` (a letter first, letters, digits and single
    underscores, at most 40 characters before `__c`); ValueError otherwise."""
    if not _CUSTOM_NAME.fullmatch(name) or len(name) - 3 > 40:
        raise ValueError(f"INVALID_FIELD_NAME: {name!r} is not a custom field name (Name__c)")
    if field_type not in CUSTOM_TYPES:
        raise ValueError(f"INVALID_TYPE: {field_type!r} is not one of {', '.join(CUSTOM_TYPES)}")
    default_length, longest = CUSTOM_TYPES[field_type]
    size = default_length if length is None else length
    if longest and not 1 <= size <= longest:
        raise ValueError(f"INVALID_LENGTH: {field_type} holds 1 to {longest} characters")
    shown = label or name[:-3].replace("_", " ")
    if field_type == "double":
        return Field(name, shown, "double", precision=18, custom=True)
    return Field(name, shown, field_type, length=size if longest else 0, custom=True)
