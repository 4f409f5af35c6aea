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
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Caller, bearer_scheme, manager_of, member_of
from app.autocreate.service import AutocreateService
from app.config import Settings
from app.connections.service import ConnectionService
from app.db import Database
from app.edits.service import EditService
from app.errors import Unauthenticated
from app.lookup.service import LookupService
from app.services import Services
from app.workspace_settings.service import WorkspaceSettingsService
from app.writeback.activities import ActivityService
from app.writeback.service import RecordCreationService

# Every dependency here is `async def`: a plain `def` would run in the thread pool.


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


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


async def get_connection_service(services: ServicesDep) -> ConnectionService:
    return services.connections


async def get_workspace_settings_service(services: ServicesDep) -> WorkspaceSettingsService:
    return services.workspace_settings


async def get_lookup_service(services: ServicesDep) -> LookupService:
    return services.lookup


async def get_edit_service(services: ServicesDep) -> EditService:
    return services.edits


async def get_autocreate_service(services: ServicesDep) -> AutocreateService:
    return services.autocreate


async def get_record_creation_service(services: ServicesDep) -> RecordCreationService:
    return services.record_creation


async def get_activity_service(services: ServicesDep) -> ActivityService:
    return services.activities


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


# -- the caller ---------------------------------------------------------------------------


async def current_caller(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(
            "Send a respond.io token as `Authorization: Bearer <JWT>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return services.verifier.verify(credentials.credentials)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def workspace_caller(workspace_id: str, caller: CurrentCaller) -> Caller:
    """Any role of the workspace named in the path."""
    return member_of(workspace_id, caller)


async def workspace_manager(caller: Annotated[Caller, Depends(workspace_caller)]) -> Caller:
    """Owner or manager of the workspace named in the path."""
    return manager_of(caller)


AnyMember = Annotated[Caller, Depends(workspace_caller)]
Manager = Annotated[Caller, Depends(workspace_manager)]
