"""HTTP for creating Contacts and Leads and logging activities (docs/api.md, "Creating
records" and "Activities")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app import errors
from app.deps import ActivityServiceDep, AnyMember, RecordCreationServiceDep
from app.openapi import AUTH_ERRORS, SALESFORCE_READ_ERRORS, json_body, problem_responses
from app.workspace.bodies import read_json
from app.workspace.describes import SOBJECTS, SObject
from app.writeback.schemas import (
    MAX_BODY_BYTES,
    RECORD_ID_PATTERN,
    ActivityOut,
    ActivityRequest,
    CaseRequest,
    CaseView,
    ContactCreateRequest,
    CreatedRecord,
    CreateRequest,
    LeadCreateRequest,
    LoggedActivityOut,
)

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/salesforce", tags=["write-back"])

CREATE_ERRORS = (
    *AUTH_ERRORS,
    errors.RecordCreationDisabled,
    errors.ValidationFailed,
    errors.SalesforceValidationFailed,
    errors.SalesforceDuplicate,
    errors.IdempotencyKeyReused,
    errors.IdempotencyKeyInProgress,
    errors.RequestTooLarge,
    errors.TooManyRequests,
    *SALESFORCE_READ_ERRORS,
)
# What every Salesforce-calling write says of the API allocation (docs/api-allocation.md).
WRITE_LIMITS_DOC = (
    " Writes are limited per workspace (429 `too_many_requests`) and refused while the org is "
    "near its daily API limit (503 `salesforce_rate_limited`), both with `Retry-After`."
)
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Up to 255 printable ASCII characters. Makes retries safe: the same key "
        "and body within 24 hours answer the "
        "first result and create nothing; the same key with another body is "
        "`idempotency_key_reused` (422).",
    ),
]


ENABLED_WHEN = {
    "Contact": "Only while `record_creation_enabled`. ",
    "Lead": "Only while `record_creation_enabled` and `leads.enabled`. ",
}


def _create_doc(sobject: str) -> dict[str, object]:
    return {
        "status_code": 201,
        "response_model": CreatedRecord,
        "summary": f"Create a Salesforce {sobject}",
        "description": (
            "Only while `record_creation_enabled` and `leads.enabled`. "
            if sobject == "Lead"
            else "Only while `record_creation_enabled`. "
        )
        + f"Every field must be a createable "
        f"{sobject} field (email and phone included) with a valid value, and the required ones "
        "given; else 422 naming them and nothing is created. One Salesforce call. Answers with "
        "the new record as the lookup shows it; cached lookups of its email and phone are "
        "dropped at once. Salesforce's duplicate rules answer `salesforce_duplicate` with the "
        "ids of the matching records in `duplicates`; `allow_duplicates: true` saves past "
        "rules that only alert. A Lead shows the `owner` Salesforce gave it (two more calls). "
        "A replayed `Idempotency-Key` answers 200 with the first answer." + WRITE_LIMITS_DOC,
        "openapi_extra": json_body(
            LeadCreateRequest if sobject == "Lead" else ContactCreateRequest
        ),
        "responses": problem_responses(*CREATE_ERRORS),
    }


async def _create(
    sobject: SObject,
    caller: AnyMember,
    service: RecordCreationServiceDep,
    request: Request,
    response: Response,
    idempotency_key: str | None,
) -> CreatedRecord:
    body = await read_json(request, CreateRequest, MAX_BODY_BYTES)
    created = await service.create(
        caller.workspace_id,
        sobject,
        dict(body.fields),
        caller.user_id,
        idempotency_key,
        allow_duplicates=body.allow_duplicates,
    )
    if created.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    assert isinstance(created.record, CreatedRecord)
    return created.record


def _create_route(sobject: SObject) -> None:
    """POST `/contacts` (`create_contact`) or `/leads` (`create_lead`)."""

    async def create(
        caller: AnyMember,
        service: RecordCreationServiceDep,
        request: Request,
        response: Response,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> CreatedRecord:
        return await _create(sobject, caller, service, request, response, idempotency_key)

    create.__name__ = create.__qualname__ = f"create_{sobject.lower()}"
    router.post(f"/{sobject.lower()}s", **_create_doc(sobject))(create)  # type: ignore[arg-type]


for _sobject in SOBJECTS:
    _create_route(_sobject)


@router.post(
    "/cases",
    operation_id="create_case",
    status_code=201,
    response_model=CaseView,
    summary="Open a Salesforce Case for a Contact",
    description="Only while `record_creation_enabled`. Creates a Case for the Contact "
    "(`ContactId`; Salesforce files it under the Contact's Account) with the given createable "
    "Case fields, and answers it with the fields the lookup shows of Cases, as Salesforce "
    "holds them (read back once: its CaseNumber). The Contact's cached lookup answers show "
    "it first among their open Cases at once, on every replica. Checks, duplicate rules and "
    "`Idempotency-Key` as for `POST .../contacts`; a Contact that does not exist is "
    "`salesforce_contact_not_found`.",
    openapi_extra=json_body(CaseRequest),
    responses=problem_responses(*CREATE_ERRORS, errors.SalesforceContactNotFound),
)
async def create_case(
    caller: AnyMember,
    service: RecordCreationServiceDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CaseView:
    body = await read_json(request, CaseRequest, MAX_BODY_BYTES)
    created = await service.create_case(
        caller.workspace_id,
        body.contact_id,
        dict(body.fields),
        caller.user_id,
        idempotency_key,
        allow_duplicates=body.allow_duplicates,
    )
    if created.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    assert isinstance(created.record, CaseView)
    return created.record


@router.post(
    "/activities",
    status_code=201,
    response_model=ActivityOut,
    summary="Log a conversation as a completed Salesforce Task",
    description="Only while `activity_logging_enabled`. Creates a completed Task on the "
    "Contact or Lead (`WhoId`) with the subject, the description (cut with a visible marker "
    "past 32,000 characters) and the date of `occurred_at`. The same `external_id` again "
    "answers 200 with the same Task and `created: false`, across retries, replicas and "
    "restarts; a Task whose answer was lost is found again, never created twice."
    + WRITE_LIMITS_DOC,
    openapi_extra=json_body(ActivityRequest),
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.ActivityLoggingDisabled,
        errors.ValidationFailed,
        errors.SalesforceContactNotFound,
        errors.SalesforceLeadNotFound,
        errors.SalesforceValidationFailed,
        errors.RequestTooLarge,
        errors.TooManyRequests,
        *SALESFORCE_READ_ERRORS,
    ),
)
async def log_activity(
    caller: AnyMember, service: ActivityServiceDep, request: Request, response: Response
) -> ActivityOut:
    body = await read_json(request, ActivityRequest, MAX_BODY_BYTES)
    logged = await service.log(caller.workspace_id, body, caller.user_id)
    if not logged.created:
        response.status_code = 200
    return logged


@router.get(
    "/activities",
    response_model=list[LoggedActivityOut],
    summary="The activities logged through respond.io for a record, newest first",
    responses=problem_responses(*AUTH_ERRORS, errors.ValidationFailed, *SALESFORCE_READ_ERRORS),
)
async def list_activities(
    caller: AnyMember,
    service: ActivityServiceDep,
    record_id: Annotated[
        str,
        Query(
            min_length=15,
            max_length=18,
            pattern=RECORD_ID_PATTERN,
            description="The Contact or Lead id (`003...`, `00Q...`); an 18-character id's "
            "last three characters must be its case checksum (else 422).",
        ),
    ],
) -> list[LoggedActivityOut]:
    return await service.list(caller.workspace_id, record_id)
