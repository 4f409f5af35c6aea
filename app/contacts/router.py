"""HTTP for the Contact lookup (contract section 5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from app import errors
from app.auth import AnyMember
from app.contacts.schemas import LookupQuery, LookupResponse
from app.contacts.service import ContactLookupService
from app.settings.schemas import AUTH_ERRORS, SALESFORCE_READ_ERRORS, problem_responses

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/salesforce/contacts", tags=["contacts"])


@router.get(
    "/lookup",
    response_model=LookupResponse,
    summary="Find the Salesforce Contact with this email or phone",
    description="Contacts only, never Leads. The email is matched first, then the phone. "
    "Answers (matches and misses) are cached per workspace for `LOOKUP_CACHE_TTL_SECONDS`; "
    "when Salesforce is rate-limited or down, an older answer may be served with "
    "`stale: true`.",
    responses=problem_responses(*AUTH_ERRORS, errors.ValidationFailed, *SALESFORCE_READ_ERRORS),
)
async def lookup_contact(
    caller: AnyMember, request: Request, query: Annotated[LookupQuery, Query()]
) -> LookupResponse:
    service: ContactLookupService = request.app.state.contact_lookup
    return await service.lookup(caller.workspace_id, query.email, query.phone)
