"""HTTP for Contact fields and workspace settings (contract section 4)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app import errors
from app.auth import AnyMember, Manager
from app.openapi import AUTH_ERRORS, SALESFORCE_READ_ERRORS, problem_responses
from app.settings.schemas import ContactFieldOut, SettingsDocument
from app.settings.service import SettingsService

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/salesforce", tags=["settings"])


def _service(request: Request) -> SettingsService:
    service: SettingsService = request.app.state.settings_service
    return service


@router.get(
    "/fields",
    response_model=list[ContactFieldOut],
    summary="Contact fields from Salesforce's describe",
    responses=problem_responses(*AUTH_ERRORS, *SALESFORCE_READ_ERRORS),
)
async def list_fields(caller: AnyMember, request: Request) -> list[ContactFieldOut]:
    return await _service(request).fields(caller.workspace_id)


@router.get(
    "/settings",
    response_model=SettingsDocument,
    summary="The workspace's Salesforce settings (defaults when never saved)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def get_settings(caller: AnyMember, request: Request) -> SettingsDocument:
    return await _service(request).get(caller.workspace_id)


@router.put(
    "/settings",
    response_model=SettingsDocument,
    summary="Replace the whole settings document",
    description="Owner or manager. Changing `visible_fields` checks every name against the "
    "Contact describe, so it needs a Salesforce connection.",
    responses=problem_responses(*AUTH_ERRORS, errors.ValidationFailed, *SALESFORCE_READ_ERRORS),
)
async def put_settings(
    caller: Manager, request: Request, body: SettingsDocument
) -> SettingsDocument:
    return await _service(request).replace(caller.workspace_id, body, caller.user_id)
