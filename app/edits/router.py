"""HTTP for editing Contact fields, reverting edits and reading their history (docs/api.md,
"Contact edits")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError

from app import errors
from app.deps import AnyMember, EditServiceDep
from app.edits.schemas import MAX_BODY_BYTES, EditRequest, HistoryEntry
from app.kit.body import BodyTooLarge, read_bounded
from app.openapi import AUTH_ERRORS, SALESFORCE_READ_ERRORS, problem_responses
from app.workspace.contacts import ContactView

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/salesforce/contacts", tags=["contacts"])


ContactId = Annotated[
    str,
    Path(
        max_length=64,
        description="The Salesforce Contact id (15 or 18 characters, prefix `003`).",
        # Checked by the service (422 `validation_error`); declared so the schema says so.
        json_schema_extra={"pattern": "^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$"},
        examples=["0035g0000006SevAAE"],
    ),
]
FieldName = Annotated[
    str,
    Path(
        max_length=80,
        description="The field's API name.",
        examples=["Title"],
        json_schema_extra={"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
    ),
]

WRITE_ERRORS = (
    *AUTH_ERRORS,
    errors.EditingDisabled,
    errors.ValidationFailed,
    errors.FieldNotEditable,
    errors.SalesforceContactNotFound,
    errors.SalesforceValidationFailed,
    errors.EditConflict,
    *SALESFORCE_READ_ERRORS,
)


async def _edit_request(request: Request) -> EditRequest:
    """The body, read with a size cap before any parsing."""
    try:
        body = await read_bounded(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        raise errors.RequestTooLarge(f"The body may be at most {MAX_BODY_BYTES} bytes.") from None
    try:
        return EditRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(part) for part in err.get("loc", ())) or "body",
                "message": err.get("msg", "invalid"),
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise errors.ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        ) from None


@router.patch(
    "/{contact_id}",
    response_model=ContactView,
    summary="Edit fields of a Salesforce Contact",
    description="Writes the fields to Salesforce at once (only while `editing_enabled`; every "
    "field must be visible and `editable`, else nothing is written) and records each field's "
    "previous value so it can be reverted. The Contact is read fresh first and written with "
    "`If-Unmodified-Since`: a change made in Salesforce in between answers `edit_conflict` "
    "instead of being overwritten. Fields that already hold the requested value are neither "
    "written nor recorded, so repeating a request is safe. Answers with the fresh `contact` "
    "object of the lookup; cached lookups of the Contact are updated at once. "
    f"At most {MAX_BODY_BYTES} bytes and 100 fields per request.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EditRequest.model_json_schema()}},
        }
    },
    responses=problem_responses(*WRITE_ERRORS, errors.RequestTooLarge),
)
async def edit_contact(
    caller: AnyMember, service: EditServiceDep, request: Request, contact_id: ContactId
) -> ContactView:
    body = await _edit_request(request)
    return await service.edit(caller.workspace_id, contact_id, dict(body.fields), caller.user_id)


@router.post(
    "/{contact_id}/fields/{field}/revert",
    response_model=ContactView,
    summary="Undo the most recent edit of a field made through respond.io",
    description="Restores the value the field had before its most recent unreverted edit "
    "made through respond.io; repeated reverts walk further back. When the field no longer "
    "holds the value respond.io wrote (someone changed it in Salesforce), answers "
    "`edit_conflict` unless `force=true`. The revert marks that edit in the history "
    "(`reverted_at`, `reverted_by`); it does not add an entry of its own. Answers with the "
    "fresh `contact`.",
    responses=problem_responses(*WRITE_ERRORS, errors.NothingToRevert),
)
async def revert_field(
    caller: AnyMember,
    service: EditServiceDep,
    contact_id: ContactId,
    field: FieldName,
    force: Annotated[
        bool,
        Query(description="Revert even when the field was changed in Salesforce since."),
    ] = False,
) -> ContactView:
    return await service.revert(caller.workspace_id, contact_id, field, caller.user_id, force=force)


@router.get(
    "/{contact_id}/history",
    response_model=list[HistoryEntry],
    summary="The field edits made through respond.io, newest first",
    description="Edits that reached Salesforce, newest first (at most 500). A reverted edit "
    "keeps its entry, with `reverted_at` and `reverted_by` set.",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.ValidationFailed,
        errors.SalesforceContactNotFound,
        *SALESFORCE_READ_ERRORS,
    ),
)
async def contact_history(
    caller: AnyMember, service: EditServiceDep, contact_id: ContactId
) -> list[HistoryEntry]:
    return await service.history(caller.workspace_id, contact_id)
