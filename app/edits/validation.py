"""What an edit may write: the Contact or Lead id, the fields (visible, editable) and their values,
checked against the describe before anything is written. The values are normalized by
app.workspace.field_values, shared with the creates of app.writeback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app import errors as app_errors
from app.salesforce.values import CONTACT_PREFIX, LEAD_PREFIX, id18, is_id
from app.workspace.contacts import visible_fields
from app.workspace.context import WorkspaceContext
from app.workspace.describes import NOT_EDITABLE_TYPES, ContactDescribe, ContactField, SObject
from app.workspace.field_values import InvalidValue, normalize
from app.workspace.person_accounts import account_field

ID_PREFIXES: dict[SObject, str] = {"Contact": CONTACT_PREFIX, "Lead": LEAD_PREFIX}


def canonical_record_id(raw: str, sobject: SObject = "Contact") -> str:
    """The 18-character id of a Contact (or Lead) id given with 15 or 18 characters.

    A string of the wrong shape is a 422; a well-formed id that cannot be one of the object's
    (another object's prefix, a checksum that does not match) is reported as not found."""
    name = "lead_id" if sobject == "Lead" else "contact_id"
    if not is_id(raw):
        raise app_errors.ValidationFailed(
            f"{name}: a Salesforce {sobject} id has 15 or 18 letters and digits",
            errors=[{"field": name, "message": "must be 15 or 18 letters and digits"}],
        )
    full = id18(raw)
    if full is None or not raw.startswith(ID_PREFIXES[sobject]):
        raise app_errors.record_not_found(sobject)
    return full


def canonical_contact_id(raw: str) -> str:
    return canonical_record_id(raw, "Contact")


def check_editable(
    context: WorkspaceContext,
    describe: ContactDescribe,
    names: Iterable[str],
    sobject: SObject = "Contact",
) -> list[ContactField]:
    """The fields in the describe's spelling; 422 `field_not_editable` naming every refusal.
    A Lead's visible fields are `leads.visible_fields`."""
    visible = {name.lower() for name in visible_fields(context, sobject)}
    fields: list[ContactField] = []
    problems: list[dict[str, str]] = []
    for name in names:
        field = describe.field(name)
        if field is None:
            reason = f"is not a field of {sobject}"
        elif field.name.lower() not in visible:
            reason = "is not one of the workspace's visible fields"
        elif field.type in NOT_EDITABLE_TYPES:
            reason = f"is of type {field.type}; email and phone fields are edited in Salesforce"
        elif not field.updateable:
            reason = "is read-only in Salesforce (a formula, system or locked field)"
        else:
            fields.append(field)
            continue
        problems.append({"field": name, "message": f"{name} {reason}"})
    if problems:
        raise app_errors.FieldNotEditable(
            "These fields cannot be edited: "
            + "; ".join(problem["message"] for problem in problems),
            errors=problems,
        )
    return fields


def check_values(fields: list[ContactField], values: list[Any]) -> list[tuple[ContactField, Any]]:
    """Each value in the form Salesforce will hold; 422 `validation_error` naming each bad one."""
    checked: list[tuple[ContactField, Any]] = []
    problems: list[dict[str, str]] = []
    seen: set[str] = set()
    for field, value in zip(fields, values, strict=True):
        if field.name in seen:
            problems.append({"field": field.name, "message": "is given more than once"})
            continue
        seen.add(field.name)
        try:
            checked.append((field, normalize(field, value)))
        except InvalidValue as exc:
            problems.append({"field": field.name, "message": str(exc)})
    if problems:
        raise app_errors.ValidationFailed(
            "; ".join(f"fields.{p['field']}: {p['message']}" for p in problems),
            errors=[{"field": f"fields.{p['field']}", "message": p["message"]} for p in problems],
        )
    return checked


def check_person_fields(account: ContactDescribe, fields: Iterable[ContactField]) -> None:
    """A person account's fields are written on its Account (docs/whole-customer.md): 422
    `field_not_editable` for those without an Account counterpart the Account describe
    shows."""
    refused = [
        f.name
        for f in fields
        if (target := account_field(f.name)) is None or account.field(target) is None
    ]
    if refused:
        raise app_errors.FieldNotEditable(
            "This Contact is a person account, whose fields are written on its Account, and "
            "the Account has no counterpart of: " + ", ".join(refused),
            errors=[
                {"field": name, "message": f"{name} has no person account counterpart"}
                for name in refused
            ],
        )
