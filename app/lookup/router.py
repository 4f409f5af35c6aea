"""HTTP for the Contact lookup (docs/api.md, "Contact lookup")."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import errors
from app.deps import AnyMember, LookupServiceDep
from app.lookup.schemas import (
    LOOKUP_QUERY_PARAMETERS,
    LookupResponse,
    identifiers_from_query,
)
from app.openapi import AUTH_ERRORS, SALESFORCE_READ_ERRORS, problem_responses

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/salesforce/contacts", tags=["contacts"])


@router.get(
    "/lookup",
    response_model=LookupResponse,
    summary="Find the Salesforce Contact (or Lead) with this email or phone",
    description="Give `email`, `phone` or both (neither: 422). Contacts first; when none "
    "matches and `leads.enabled`, unconverted Leads by the same rules (`matched_object` says "
    "which). The email is matched first, then the phone. A phone with an extension matches "
    "only the same number with the same extension. Answers (matches and misses) are cached "
    "per workspace for `LOOKUP_CACHE_TTL_SECONDS`; when Salesforce is rate-limited or down, "
    "an older answer may be served with `stale: true`. While the org's API usage is above "
    "`SALESFORCE_API_FOREGROUND_MAX_USAGE` an answer that would need Salesforce is served "
    "stale, else 503 `salesforce_rate_limited` with `Retry-After`; a workspace's cache misses "
    "past `LOOKUP_MISS_RATE_PER_WORKSPACE` answer 429 `too_many_requests` with `Retry-After`.",
    responses=problem_responses(
        *AUTH_ERRORS, errors.ValidationFailed, errors.TooManyRequests, *SALESFORCE_READ_ERRORS
    ),
    # At least one of the two: without either the answer is 422 (OpenAPI cannot say it of
    # query parameters, so an extension does).
    openapi_extra={"parameters": LOOKUP_QUERY_PARAMETERS, "x-at-least-one-of": ["email", "phone"]},
)
async def lookup_contact(
    caller: AnyMember, service: LookupServiceDep, request: Request
) -> Response:
    # `email` and `phone` are read from the query here (documented by openapi_extra above):
    # declared parameters cost FastAPI a validation each on every request.
    email, phone = identifiers_from_query(request.query_params)
    # The answer's JSON is rendered once per cached answer (app.lookup.service).
    return Response(
        await service.lookup_json(caller.workspace_id, email, phone),
        media_type="application/json",
    )


@router.api_route("/lookup", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def lookup_other_methods() -> Response:
    """`/contacts/lookup` is GET only: 405, not an edit of a Contact whose id is "lookup"
    (`PATCH /contacts/{contact_id}` would match it)."""
    raise errors.MethodNotAllowed(headers={"Allow": "GET"})
