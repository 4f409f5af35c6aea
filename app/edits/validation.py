"""What an edit may write: the Contact id, the fields (visible, editable) and their values,
checked against the describe before anything is written. The values are normalized by
app.workspace.field_values, shared with the creates of app.writeback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app import errors as app_errors
from app.salesforce.values import CONTACT_PREFIX, id18, is_id
from app.workspace.context import WorkspaceContext
from app.workspace.describes import NOT_EDITABLE_TYPES, ContactDescribe, ContactField
from app.workspace.field_values import InvalidValue, normalize


def canonical_contact_id(raw: str) -> str:
    """The 18-character id of a Contact id given with 15 or 18 characters.

    A string of the wrong shape is a 422; a well-formed id that cannot be a Contact (another
    object's prefix, a checksum that does not match) is reported as a missing Contact."""
    if not is_id(raw):
        raise app_errors.ValidationFailed(
            "contact_id: a Salesforce Contact id has 15 or 18 letters and digits",
            errors=[{"field": "contact_id", "message": "must be 15 or 18 letters and digits"}],
        )
    full = id18(raw)
    if full is None or not raw.startswith(CONTACT_PREFIX):
        raise app_errors.SalesforceContactNotFound()
    return full


def check_editable(
    context: WorkspaceContext, describe: ContactDescribe, names: Iterable[str]
) -> list[ContactField]:
    """The fields in the describe's spelling; 422 `field_not_editable` naming every refusal."""
    visible = {name.lower() for name in context.settings.visible_fields}
    fields: list[ContactField] = []
    problems: list[dict[str, str]] = []
    for name in names:
        field = describe.field(name)
        if field is None:
            reason = "is not a field of Contact"
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
