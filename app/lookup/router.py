"""HTTP for the Contact lookup (docs/api.md, "Contact lookup")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app import errors
from app.deps import AnyMember, LookupServiceDep
from app.lookup.schemas import (
    MAX_EMAIL_LENGTH,
    MAX_PHONE_LENGTH,
    LookupResponse,
    checked_identifiers,
)
from app.openapi import AUTH_ERRORS, SALESFORCE_READ_ERRORS, problem_responses

# Documented only: the service trims and refuses blank identifiers (app.lookup.schemas).
NOT_BLANK = r"\S"

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/salesforce/contacts", tags=["contacts"])


@router.get(
    "/lookup",
    response_model=LookupResponse,
    summary="Find the Salesforce Contact (or Lead) with this email or phone",
    description="Contacts first; when none matches and `leads.enabled`, unconverted Leads by "
    "the same rules (`matched_object` says which). The email is matched first, then the "
    "phone. A phone with an extension matches only the same number with the same extension. "
    "Answers (matches and misses) are cached per workspace for `LOOKUP_CACHE_TTL_SECONDS`; "
    "when Salesforce is rate-limited or down, an older answer may be served with "
    "`stale: true`. While the org's API usage is above `SALESFORCE_API_FOREGROUND_MAX_USAGE` "
    "an answer that would need Salesforce is served stale, else 503 `salesforce_rate_limited` "
    "with `Retry-After`; a workspace's cache misses past `LOOKUP_MISS_RATE_PER_WORKSPACE` "
    "answer 429 `too_many_requests` with `Retry-After`.",
    responses=problem_responses(
        *AUTH_ERRORS, errors.ValidationFailed, errors.TooManyRequests, *SALESFORCE_READ_ERRORS
    ),
)
async def lookup_contact(
    caller: AnyMember,
    service: LookupServiceDep,
    email: Annotated[
        str | None,
        Query(
            max_length=MAX_EMAIL_LENGTH,
            description="Matched first, against Contact.Email (case-insensitive, as in "
            "Salesforce). Give `email`, `phone` or both: neither is a 422.",
            json_schema_extra={"pattern": NOT_BLANK},
            examples=["ana.souza@example.com"],
        ),
    ] = None,
    phone: Annotated[
        str | None,
        Query(
            max_length=MAX_PHONE_LENGTH,
            description="Matched against Phone and MobilePhone when the email finds nothing: "
            "exactly as stored, or as E.164 (extension included) with "
            "`phone_matching=normalized`.",
            json_schema_extra={"pattern": NOT_BLANK},
            examples=["+60 12-345 6789"],
        ),
    ] = None,
) -> Response:
    email, phone = checked_identifiers(email, phone)
    answer = await service.lookup(caller.workspace_id, email, phone)
    # The model is already validated: serialize it once, straight to JSON bytes. `lead` is
    # set only while Leads are enabled; otherwise the answer has no such key.
    exclude = None if "lead" in answer.model_fields_set else {"lead"}
    return Response(answer.model_dump_json(exclude=exclude), media_type="application/json")
