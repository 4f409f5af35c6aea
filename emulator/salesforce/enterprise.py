"""How enterprise orgs are configured, and what that changes in their answers
(docs/enterprise-orgs.md):

- field-level security: a profile hides fields; the profile's users get a describe without
  them, and SOQL, SOSL and record reads or writes naming them fail with INVALID_FIELD, as if
  the field did not exist (Salesforce's answer);
- the active Lead assignment rule: a Lead created over REST is owned by the rule's user
  unless the request says `Sforce-Auto-Assign: FALSE`;
- large tables: on an object marked large, a SOQL filter the query optimizer cannot serve
  from an index (no indexed condition ANDed in, or an OR) answers QUERY_TIMEOUT, as a
  non-selective query over millions of rows does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .errors import SFError
from .fields import SObjectType
from .models import Org

# Fields Salesforce indexes on every org (besides ids and lookups): "Indexes" in
# salesforce-reference; Email is indexed on Contact and Lead.
INDEXED_NAMES = frozenset(
    {"Id", "Name", "OwnerId", "CreatedDate", "SystemModstamp", "LastModifiedDate", "Email"}
)
INDEXABLE_OPS = frozenset({"=", "<", ">", "<=", ">=", "IN"})
QUERY_TIMEOUT_MESSAGE = "Your query request was running for too long."


# -- field-level security ------------------------------------------------------------------


def hidden_fields(org: Org, user_id: str, type_name: str) -> frozenset[str]:
    """The fields of `type_name` the user's profile does not let them read."""
    user = org.users.get(user_id)
    profile = user.profile if user is not None else ""
    # getattr: a state file saved by an older emulator (make run) has no such attribute.
    names = getattr(org, "hidden_fields", {}).get(profile, {}).get(type_name, [])
    return frozenset(n.lower() for n in names)


def visible_type(org: Org, user_id: str, t: SObjectType) -> SObjectType:
    """The object as this user sees it (the same object when nothing is hidden)."""
    hidden = hidden_fields(org, user_id, t.name)
    if not hidden:
        return t
    return dataclasses.replace(t, fields=[f for f in t.fields if f.name.lower() not in hidden])


# -- lead assignment -----------------------------------------------------------------------


def assign_lead_owner(org: Org, header: str | None, values: dict[str, Any]) -> None:
    """Apply the active Lead assignment rule to a new Lead's values (REST applies it unless
    `Sforce-Auto-Assign` is FALSE)."""
    if org.lead_assignment_owner is None:
        return
    if (header or "").strip().lower() in {"false", "0"}:
        return
    values["OwnerId"] = org.lead_assignment_owner


# -- selectivity on large tables -----------------------------------------------------------


def mark(predicate: Any, selective: bool) -> Any:
    """Remember on a compiled predicate whether an index can serve it."""
    predicate.selective = selective
    return predicate


def is_selective(predicate: Any) -> bool:
    return bool(getattr(predicate, "selective", False))


def indexed(t: SObjectType, field_name: str, op: str) -> bool:
    f = t.field(field_name)
    if f is None or op not in INDEXABLE_OPS:
        return False
    return f.type in {"id", "reference"} or f.name in INDEXED_NAMES or bool(f.external_id)


def check_selective(org: Org, type_name: str, where: Any) -> None:
    """QUERY_TIMEOUT for a non-selective filter on an object the org marks as large."""
    if where is None or type_name not in getattr(org, "large_tables", ()):
        return
    if not is_selective(where):
        raise SFError(400, "QUERY_TIMEOUT", QUERY_TIMEOUT_MESSAGE)
