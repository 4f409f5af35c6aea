"""The typed dependencies routers declare: the caller and the services.

Every service comes from the one `Services` built at start-up (app.services); this module is
the only reader of `app.state`. A router writes `service: LookupServiceDep` and gets the
lookup service, `caller: Manager` and gets a verified owner or manager of the workspace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import jinja2
from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import BEARER_DESCRIPTION, BEARER_FORMAT, Caller, bearer_scheme
from app.autocreate.service import AutocreateService
from app.config import Settings
from app.connections.service import ConnectionService
from app.conversation_logging.service import ConversationLoggingService
from app.db import Database
from app.edits.service import EditService
from app.errors import Forbidden, Unauthenticated
from app.lookup.service import LookupService
from app.services import Services
from app.workspace_settings.service import WorkspaceSettingsService
from app.writeback.activities import ActivityService
from app.writeback.service import RecordCreationService

# Every dependency here is `async def`: a plain `def` would run in the thread pool. The
# services are read from the request directly rather than through `ServicesDep`: each level
# of dependencies costs FastAPI work on every request.


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    return _services(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_database(services: ServicesDep) -> Database:
    return services.db


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request for routes that only touch the database."""
    async with services.db.transaction() as session:
        yield session


async def get_templates(services: ServicesDep) -> jinja2.Environment:
    return services.templates


async def get_connection_service(request: Request) -> ConnectionService:
    return _services(request).connections


async def get_workspace_settings_service(request: Request) -> WorkspaceSettingsService:
    return _services(request).workspace_settings


async def get_lookup_service(request: Request) -> LookupService:
    return _services(request).lookup


async def get_edit_service(request: Request) -> EditService:
    return _services(request).edits


async def get_autocreate_service(request: Request) -> AutocreateService:
    return _services(request).autocreate


async def get_record_creation_service(services: ServicesDep) -> RecordCreationService:
    return services.record_creation


async def get_activity_service(services: ServicesDep) -> ActivityService:
    return services.activities


async def get_conversation_logging_service(services: ServicesDep) -> ConversationLoggingService:
    return services.conversation_logging


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemplatesDep = Annotated[jinja2.Environment, Depends(get_templates)]
ConnectionServiceDep = Annotated[ConnectionService, Depends(get_connection_service)]
WorkspaceSettingsServiceDep = Annotated[
    WorkspaceSettingsService, Depends(get_workspace_settings_service)
]
LookupServiceDep = Annotated[LookupService, Depends(get_lookup_service)]
EditServiceDep = Annotated[EditService, Depends(get_edit_service)]
AutocreateServiceDep = Annotated[AutocreateService, Depends(get_autocreate_service)]
RecordCreationServiceDep = Annotated[RecordCreationService, Depends(get_record_creation_service)]
ActivityServiceDep = Annotated[ActivityService, Depends(get_activity_service)]
ConversationLoggingServiceDep = Annotated[
    ConversationLoggingService, Depends(get_conversation_logging_service)
]


# -- the caller ---------------------------------------------------------------------------


def _bearer_token(request: Request) -> str:
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    if not credentials or scheme.lower() != "bearer":
        raise Unauthenticated(
            "Send a respond.io token as `Authorization: Bearer <JWT>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials


def authenticate(request: Request, workspace_id: str) -> Caller:
    """The verified caller of the workspace `workspace_id`: 401 without a valid token, 403
    when the token is another workspace's. (app.body_guard runs it before a body is read.)"""
    caller = _services(request).verifier.verify(_bearer_token(request))
    if caller.workspace_id != workspace_id:
        raise Forbidden("The token does not belong to this workspace.")
    return caller


class WorkspaceCaller(SecurityBase):
    """The verified caller of a `/v1/workspaces/{workspace_id}/...` route, as one dependency.

    On every request: the bearer token is verified (app.auth.TokenVerifier, which remembers
    tokens it verified until their `exp`), the token's workspace must be the one in the path
    and, with `managers_only`, the role must be owner or manager. One dependency rather than a
    chain (token -> caller -> member -> manager) because FastAPI's per-request cost grows with
    every level it solves. In the OpenAPI document it is the same `HTTPBearer` scheme.
    """

    def __init__(self, *, managers_only: bool) -> None:
        self.model = HTTPBearerModel(bearerFormat=BEARER_FORMAT, description=BEARER_DESCRIPTION)
        self.scheme_name = bearer_scheme.scheme_name
        self.managers_only = managers_only

    async def __call__(self, request: Request, workspace_id: str) -> Caller:
        caller = authenticate(request, workspace_id)
        if self.managers_only and not caller.can_manage:
            raise Forbidden("Only workspace owners and managers may do this.")
        return caller


workspace_caller = WorkspaceCaller(managers_only=False)
"""Any role of the workspace named in the path."""
workspace_manager = WorkspaceCaller(managers_only=True)
"""Owner or manager of the workspace named in the path."""

AnyMember = Annotated[Caller, Depends(workspace_caller)]
Manager = Annotated[Caller, Depends(workspace_manager)]
