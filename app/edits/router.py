"""HTTP for editing Contact and Lead fields, reverting edits and reading their history
(docs/api.md, "Contact edits" and "Lead edits"). Both objects get the same three routes from
`record_routes`.

No `from __future__ import annotations` here: the routes are defined inside a function, and
FastAPI must evaluate their annotations, which name that function's locals.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from app import errors
from app.deps import AnyMember, EditServiceDep
from app.edits.schemas import MAX_BODY_BYTES, EditRequest, HistoryEntry
from app.openapi import AUTH_ERRORS, SALESFORCE_READ_ERRORS, json_body, problem_responses
from app.workspace.bodies import read_json
from app.workspace.contacts import ContactView
from app.workspace.describes import SObject

FieldName = Annotated[
    str,
    Path(
        max_length=80,
        description="The field's API name.",
        examples=["Title"],
        json_schema_extra={"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
    ),
]
# Per object: the path segment (also the OpenAPI tag), the id parameter, the id prefix and an
# example id.
OBJECTS: dict[SObject, tuple[str, str, str, str]] = {
    "Contact": ("contacts", "contact_id", "003", "0035g0000006SevAAE"),
    "Lead": ("leads", "lead_id", "00Q", "00Q5g0000006TPJEA2"),
}


def record_routes(sobject: SObject) -> APIRouter:
    """PATCH `/{id}`, POST `/{id}/fields/{field}/revert` and GET `/{id}/history` of the object."""
    segment, id_name, prefix, example = OBJECTS[sobject]
    noun = sobject.lower()  # also the lookup answer's key holding the record
    not_found = (
        errors.SalesforceLeadNotFound if sobject == "Lead" else errors.SalesforceContactNotFound
    )
    router = APIRouter(
        prefix=f"/v1/workspaces/{{workspace_id}}/salesforce/{segment}", tags=[segment]
    )
    RecordId = Annotated[
        str,
        Path(
            alias=id_name,
            max_length=64,
            description=f"The Salesforce {sobject} id (15 or 18 characters, prefix `{prefix}`). "
            "The last three characters of an 18-character id are Salesforce's case checksum "
            f"of the first 15: an id whose checksum does not match, or without the `{prefix}` "
            f"prefix, names no {sobject} (404 `{not_found.code}`).",
            # Checked by the service (422 `validation_error`); declared so the schema says so.
            json_schema_extra={
                "pattern": "^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$",
                "x-salesforce-id-checksum": True,
            },
            examples=[example],
        ),
    ]
    write_errors = (
        *AUTH_ERRORS,
        errors.EditingDisabled,
        errors.ValidationFailed,
        errors.FieldNotEditable,
        not_found,
        errors.SalesforceValidationFailed,
        errors.EditConflict,
        errors.TooManyRequests,
        *SALESFORCE_READ_ERRORS,
    )
    gone = (
        " A Lead that was converted answers `salesforce_lead_not_found`, like a deleted one, "
        "and the cached lookups holding it are dropped (the next lookup shows the Contact it "
        "became). Needs `leads.enabled` too."
        if sobject == "Lead"
        else ""
    )

    @router.patch(
        f"/{{{id_name}}}",
        response_model=ContactView,
        name=f"edit_{noun}",
        summary=f"Edit fields of a Salesforce {sobject}",
        description="Writes the fields to Salesforce at once (only while `editing_enabled`; "
        f"every field must be one of the {sobject}'s visible fields and `editable`, else "
        "nothing is written) and records each field's previous value so it can be reverted. "
        f"The {sobject} is read fresh first and written with `If-Unmodified-Since`: a change "
        "made in Salesforce in between answers `edit_conflict` instead of being overwritten. "
        "Fields that already hold the requested value are neither written nor recorded, so "
        "repeating a request is safe; when a fresh cached lookup of the record already holds "
        "every value, the edit costs no Salesforce call at all. Writes are limited per "
        "workspace (429 `too_many_requests`) and refused while the org is near its daily API "
        "limit (503 `salesforce_rate_limited`), both with `Retry-After`. Answers with the "
        f"fresh `{noun}` object of the lookup; "
        f"cached lookups of the {sobject} are updated at once.{gone} "
        f"At most {MAX_BODY_BYTES} bytes and 100 fields per request.",
        openapi_extra=json_body(EditRequest),
        responses=problem_responses(*write_errors, errors.RequestTooLarge),
    )
    async def edit_record(
        caller: AnyMember, service: EditServiceDep, request: Request, record_id: RecordId
    ) -> ContactView:
        body = await read_json(request, EditRequest, MAX_BODY_BYTES)
        fields = dict(body.fields)
        return await service.edit(caller.workspace_id, sobject, record_id, fields, caller.user_id)

    @router.post(
        f"/{{{id_name}}}/fields/{{field}}/revert",
        response_model=ContactView,
        # The Contact's operation keeps its first name (`revert_field`) for existing clients.
        name="revert_field" if sobject == "Contact" else "revert_lead_field",
        summary=f"Undo the most recent edit of a {sobject} field made through respond.io",
        description="Restores the value the field had before its most recent unreverted edit "
        "made through respond.io; repeated reverts walk further back. When the field no longer "
        "holds the value respond.io wrote (someone changed it in Salesforce), answers "
        "`edit_conflict` unless `force=true`. The revert marks that edit in the history "
        "(`reverted_at`, `reverted_by`); it does not add an entry of its own. Answers with the "
        f"fresh `{noun}`.{gone}",
        responses=problem_responses(*write_errors, errors.NothingToRevert),
    )
    async def revert_field(
        caller: AnyMember,
        service: EditServiceDep,
        record_id: RecordId,
        field: FieldName,
        force: Annotated[
            bool,
            Query(description="Revert even when the field was changed in Salesforce since."),
        ] = False,
    ) -> ContactView:
        return await service.revert(
            caller.workspace_id, sobject, record_id, field, caller.user_id, force=force
        )

    @router.get(
        f"/{{{id_name}}}/history",
        response_model=list[HistoryEntry],
        name=f"{noun}_history",
        summary=f"The {sobject} field edits made through respond.io, newest first",
        description="Edits that reached Salesforce, newest first (at most 500). A reverted edit "
        "keeps its entry, with `reverted_at` and `reverted_by` set.",
        responses=problem_responses(
            *AUTH_ERRORS, errors.ValidationFailed, not_found, *SALESFORCE_READ_ERRORS
        ),
    )
    async def record_history(
        caller: AnyMember, service: EditServiceDep, record_id: RecordId
    ) -> list[HistoryEntry]:
        return await service.history(caller.workspace_id, sobject, record_id)

    return router


router = APIRouter()
router.include_router(record_routes("Contact"))
router.include_router(record_routes("Lead"))
