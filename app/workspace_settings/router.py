"""HTTP for Contact fields and workspace settings (docs/api.md, "Fields and settings")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app import errors
from app.deps import AnyMember, Manager, WorkspaceSettingsServiceDep
from app.openapi import AUTH_ERRORS, SALESFORCE_READ_ERRORS, problem_responses
from app.workspace.describes import Described
from app.workspace_settings.schemas import ContactFieldOut, SettingsDocument, SettingsUpdate

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/salesforce", tags=["settings"])


@router.get(
    "/fields",
    response_model=list[ContactFieldOut],
    summary="Contact (Lead, Account, Opportunity, Case) fields from Salesforce's describe",
    responses=problem_responses(*AUTH_ERRORS, errors.ValidationFailed, *SALESFORCE_READ_ERRORS),
)
async def list_fields(
    caller: AnyMember,
    service: WorkspaceSettingsServiceDep,
    sobject: Annotated[
        Described,
        Query(
            alias="object",
            description="Whose fields: `Contact` (default), `Lead`, or the related records' "
            "`Account`, `Opportunity`, `Case`.",
        ),
    ] = "Contact",
) -> list[ContactFieldOut]:
    return await service.fields(caller.workspace_id, sobject)


@router.get(
    "/settings",
    response_model=SettingsDocument,
    summary="The workspace's Salesforce settings (defaults when never saved)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def get_settings(caller: AnyMember, service: WorkspaceSettingsServiceDep) -> SettingsDocument:
    return await service.get(caller.workspace_id)


@router.put(
    "/settings",
    response_model=SettingsDocument,
    summary="Replace the whole settings document",
    description="Owner or manager. Changing `visible_fields` (or `leads.visible_fields`) "
    "checks every name against the Contact (or Lead) describe, so it needs a Salesforce "
    "connection; so does an enabled `related` part (its fields are checked against the "
    "Account, Opportunity or Case describe). `leads`, `related` and `record_creation` may be "
    "omitted: the stored value is kept.",
    responses=problem_responses(*AUTH_ERRORS, errors.ValidationFailed, *SALESFORCE_READ_ERRORS),
)
async def put_settings(
    caller: Manager, service: WorkspaceSettingsServiceDep, body: SettingsUpdate
) -> SettingsDocument:
    return await service.replace(caller.workspace_id, body, caller.user_id)
