"""Relationship queries in SOQL, as Salesforce answers them.

- Parent (child-to-parent) fields in SELECT: `SELECT Name, Account.Name, Account.Industry
  FROM Contact`. The relationship is the reference field's name without `Id` (`AccountId` →
  `Account`, `OwnerId` → `Owner`; custom `X__c` → `X__r`). Each record carries
  `"Account": {"attributes": {...}, "Name": ..., "Industry": ...}`, or `"Account": null`
  when the reference is empty.
- Parent-to-child subqueries in SELECT: `SELECT Name, (SELECT Name FROM Opportunities WHERE
  IsClosed = false ORDER BY CloseDate LIMIT 5) FROM Account`. FROM names the child
  relationship (plural), never the object; each record carries
  `"Opportunities": {"totalSize": n, "done": true, "records": [...]}`, or `null` when there
  are none. Subqueries do not nest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fields import Field, SObjectType
from .soql import Query, SOQLError, TypeLookup, execute, located, project

# (parent object, relationship name) -> (child object, the child's reference field)
CHILD_RELATIONSHIPS: dict[tuple[str, str], tuple[str, str]] = {
    ("account", "contacts"): ("Contact", "AccountId"),
    ("account", "opportunities"): ("Opportunity", "AccountId"),
    ("account", "cases"): ("Case", "AccountId"),
    ("account", "tasks"): ("Task", "WhatId"),
    ("contact", "cases"): ("Case", "ContactId"),
    ("contact", "tasks"): ("Task", "WhoId"),
    ("lead", "tasks"): ("Task", "WhoId"),
    ("opportunity", "tasks"): ("Task", "WhatId"),
    ("case", "tasks"): ("Task", "WhatId"),
}

Rows = Callable[[str], list[dict[str, Any]]]


@dataclass
class ParentPath:
    """`Account.Name`: the reference field on the queried object, the parent's type and
    the parent's field."""

    relationship: str
    reference: Field
    parent: SObjectType
    field: Field


@dataclass
class ChildQuery:
    relationship: str
    reference: str  # the child's field pointing at the parent
    query: Query = field(repr=False)


def _bad_relationship(q: str, pos: int, rel: str) -> SOQLError:
    return SOQLError(
        "INVALID_FIELD",
        located(
            q,
            pos,
            f"Didn't understand relationship '{rel}' in field path. If you are attempting "
            "to use a custom relationship, be sure to append the '__r' after the custom "
            "relationship name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        ),
    )


def relationship_name(f: Field) -> str | None:
    if f.type != "reference":
        return None
    if f.name.endswith("__c"):
        return f.name[:-3] + "__r"
    return f.name[:-2] if f.name.endswith("Id") else None


def resolve_parent(q: str, t: SObjectType, text: str, pos: int, lookup: TypeLookup) -> ParentPath:
    """`Rel.Field` on `t` (one level: what the service asks)."""
    parts = text.split(".")
    if len(parts) != 2:
        raise _bad_relationship(q, pos, parts[0])
    rel, name = parts
    reference = next(
        (f for f in t.fields if (relationship_name(f) or "").lower() == rel.lower()), None
    )
    if reference is None or not reference.reference_to:
        raise _bad_relationship(q, pos, rel)
    parent = lookup(reference.reference_to[0])
    if parent is None:
        raise _bad_relationship(q, pos, rel)
    target = parent.field(name)
    if target is None:
        raise SOQLError(
            "INVALID_FIELD",
            located(
                q,
                pos,
                f"No such column '{name}' on entity '{parent.name}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            ),
        )
    return ParentPath(str(relationship_name(reference)), reference, parent, target)


def resolve_child(
    q: str, parent: SObjectType, rel: str, pos: int, lookup: TypeLookup
) -> tuple[str, str, SObjectType]:
    """(relationship as Salesforce spells it, the child's reference field, child type)."""
    known = CHILD_RELATIONSHIPS.get((parent.name.lower(), rel.lower()))
    child = lookup(known[0]) if known else None
    if known is None or child is None:
        raise SOQLError(
            "INVALID_TYPE",
            located(
                q,
                pos,
                f"Didn't understand relationship '{rel}' in FROM part of query call. If you "
                "are attempting to use a custom relationship, be sure to append the '__r' "
                "after the custom relationship name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
            ),
        )
    return child.label_plural.replace(" ", ""), known[1], child


def same_ref(a: Any, b: Any) -> bool:
    return bool(a) and bool(b) and str(a)[:15] == str(b)[:15]


def project_related(
    rec: dict[str, Any], query: Query, version: str, rows_of: Rows
) -> dict[str, Any]:
    """The record as Salesforce answers it: plain fields, parents, then subqueries."""
    out = project(rec, query.type, query.fields, version)
    for path in query.parents:
        parent_id = rec.get(path.reference.name)
        parent = next((p for p in rows_of(path.parent.name) if same_ref(p["Id"], parent_id)), None)
        if parent is None or parent.get("IsDeleted"):
            out[path.relationship] = None
            continue
        held = out.get(path.relationship) or project(parent, path.parent, [], version)
        held[path.field.name] = parent.get(path.field.name)
        out[path.relationship] = held
    for child in query.children:
        rows = [
            r for r in rows_of(child.query.type.name) if same_ref(r.get(child.reference), rec["Id"])
        ]
        found = execute(child.query, rows)
        out[child.relationship] = (
            {
                "totalSize": len(found),
                "done": True,
                "records": [
                    project(r, child.query.type, child.query.fields, version) for r in found
                ],
            }
            if found
            else None
        )
    return out
