"""The records around a matched Contact (docs/whole-customer.md): its Account, the Account's
open Opportunities (soonest CloseDate first) and the Contact's open Cases (newest first).

Whatever is enabled, they cost one Salesforce call, made after the Contact is found:

- Opportunities on (and the Contact has an Account): one query on the Account, with its
  fields, Opportunities as a subquery and, when on, the Contact's Cases as a second subquery
  (`Cases WHERE ContactId = ...`: the Contact's Cases filed under its Account).
- Otherwise: one query on the Contact, with the Account's fields as relationship fields
  (`Account.Name`) and its Cases as a subquery.
- Nothing to ask (only the Account or Opportunities on, and the Contact has no Account): no
  call at all. Everything off: no call, and the answer has no `related`.

Only fields the describes show are named (field-level security); a part whose filter or
order field is hidden (Opportunity.IsClosed, Case.CreatedDate...) answers empty without a
query naming it. The describes are those saving the settings fetched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from app.salesforce.soql import format_soql, identifier
from app.workspace.contacts import RecordView, record_view, variant
from app.workspace.describes import ContactDescribe, ContactField
from app.workspace.related_settings import RelatedObject, RelatedSettings

Record = dict[str, Any]
# What each part needs to be asked at all: its filter and order fields.
NEEDED = {
    "opportunities": ("IsClosed", "CloseDate"),
    "cases": ("IsClosed", "CreatedDate", "ContactId"),
}
OBJECT_OF: dict[str, RelatedObject] = {
    "account": "Account",
    "opportunities": "Opportunity",
    "cases": "Case",
}


@dataclass(frozen=True, slots=True)
class Part:
    """One enabled part: the fields shown (describe order of the settings), whether it can
    be asked (its needed fields visible), and for lists the limit."""

    name: str
    fields: tuple[ContactField, ...]
    askable: bool
    limit: int = 1

    @property
    def selected(self) -> tuple[str, ...]:
        names = dict.fromkeys(("Id", *(f.name for f in self.fields)))
        return tuple(names)


@dataclass(frozen=True, slots=True)
class RelatedPlan:
    parts: Mapping[str, Part]
    has_account: bool  # the Contact describe shows AccountId
    variant: str

    def part(self, name: str) -> Part | None:
        return self.parts.get(name)


def related_plan(
    settings: RelatedSettings,
    contact: ContactDescribe,
    describes: Mapping[RelatedObject, ContactDescribe],
) -> RelatedPlan | None:
    """None when every part is off (the lookup is exactly as without this feature)."""
    if not settings.any_enabled:
        return None
    parts: dict[str, Part] = {}
    for name, chosen in settings.parts().items():
        if not chosen.enabled:
            continue
        describe = describes[OBJECT_OF[name]]
        fields = tuple(f for f in (describe.field(n) for n in chosen.fields) if f is not None)
        askable = all(describe.field(n) is not None for n in NEEDED.get(name, ()))
        parts[name] = Part(name, fields, askable, chosen.limit)
    has_account = contact.field("AccountId") is not None
    shape = tuple(f"{p.name}:{p.askable}:{p.limit}:{','.join(p.selected)}" for p in parts.values())
    return RelatedPlan(parts, has_account, variant((*shape, str(has_account)), "related"))


def _subquery(relationship: str, part: Part, where: str, order: str) -> str:
    return (
        format_soql("(SELECT {:fields} FROM {:name} WHERE ", part.selected, relationship)
        + where
        + format_soql(" ORDER BY ")
        + order
        + format_soql(" LIMIT {})", part.limit)
    )


def _open_cases(part: Part, contact_id: str | None) -> str:
    where = "IsClosed = false"
    if contact_id is not None:
        where = format_soql("ContactId = {} AND ", contact_id) + where
    return _subquery("Cases", part, where, "CreatedDate DESC")


def related_soql(plan: RelatedPlan, contact_id: str, account_id: str | None) -> str | None:
    """The one query, or None when there is nothing to ask."""
    account = plan.part("account")
    opportunities = plan.part("opportunities")
    cases = plan.part("cases")
    cases = cases if cases is not None and cases.askable else None
    account_id = account_id if plan.has_account else None
    if opportunities is not None and opportunities.askable and account_id is not None:
        select = list(account.selected) if account is not None else ["Id"]
        subqueries = [
            _subquery(
                "Opportunities",
                opportunities,
                "IsClosed = false",
                "CloseDate ASC NULLS LAST",
            )
        ]
        if cases is not None:
            subqueries.append(_open_cases(cases, contact_id))
        return (
            format_soql("SELECT {:fields}, ", select)
            + ", ".join(subqueries)
            + format_soql(" FROM Account WHERE Id = {}", account_id)
        )
    columns = ["Id"]  # the rest: relationship fields and a subquery, each built checked
    if account is not None and account_id is not None:
        columns += [f"Account.{identifier(name)}" for name in account.selected]
    if cases is not None:
        columns.append(_open_cases(cases, None))
    if len(columns) == 1:
        return None
    return (
        format_soql("SELECT {:fields}", ["Id"])
        + "".join(", " + column for column in columns[1:])
        + format_soql(" FROM Contact WHERE Id = {}", contact_id)
    )


def _children(row: Record | None, relationship: str) -> list[Record]:
    held = (row or {}).get(relationship)
    if not isinstance(held, dict):
        return []  # Salesforce answers null for a subquery that found nothing
    return [r for r in held.get("records") or [] if isinstance(r, dict)]


def _kept(record: Record | None, part: Part) -> Record | None:
    if not isinstance(record, dict) or not record.get("Id"):
        return None
    return {name: record.get(name) for name in part.selected}


def related_records(
    plan: RelatedPlan, rows: Sequence[Record] | None, account_id: str | None
) -> dict[str, Any]:
    """What the cache keeps: every enabled part, `account` None when there is none, lists
    empty when nothing is open. `rows` is the answer of `related_soql` (None: not asked)."""
    row = rows[0] if rows else None
    by_account = row is not None and "Opportunities" in row
    out: dict[str, Any] = {}
    for name, part in plan.parts.items():
        if name == "account":
            source = row if by_account else (row or {}).get("Account")
            out[name] = _kept(source, part) if account_id is not None else None
        elif name == "opportunities":
            found = _children(row, "Opportunities") if by_account else []
            out[name] = [r for r in (_kept(x, part) for x in found) if r is not None]
        else:
            found = _children(row, "Cases")
            out[name] = [r for r in (_kept(x, part) for x in found) if r is not None]
    return out


# Each related record: `{"id", "url", "fields"}`, the fields read-only.
RelatedRecord = RecordView


class RelatedView(BaseModel):
    """Only the enabled parts appear (docs/whole-customer.md): the lookup's JSON leaves out
    the parts not set (LookupService.lookup_json)."""

    account: RelatedRecord | None = Field(
        default=None, description="The Contact's Account; null when it has none."
    )
    opportunities: list[RelatedRecord] | None = Field(
        default=None, description="Open Opportunities of the Account, soonest CloseDate first."
    )
    cases: list[RelatedRecord] | None = Field(
        default=None, description="The Contact's open Cases, newest first."
    )

    def disabled(self) -> set[str]:
        """The parts left out of the answer: those not enabled."""
        return set(type(self).model_fields) - self.model_fields_set


def render_related(
    plan: RelatedPlan, instance_url: str | None, held: Mapping[str, Any]
) -> RelatedView:
    parts: dict[str, Any] = {}
    for name, part in plan.parts.items():
        value = held.get(name)
        sobject = OBJECT_OF[name]
        if name == "account":
            parts[name] = record_view(instance_url, sobject, part.fields, value) if value else None
        else:
            parts[name] = [record_view(instance_url, sobject, part.fields, r) for r in value or []]
    return RelatedView(**parts)
