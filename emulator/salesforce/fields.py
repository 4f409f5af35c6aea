"""Field and object metadata (the keys of Salesforce's DescribeSObjectResult / Field)
and the helpers the object schemas are built from."""

from __future__ import annotations

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
