"""HTTP of the connection endpoints (docs/api.md, "Connection"): parse, authorize, call the
service, render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app import errors
from app.connections.errors import ConnectFailed
from app.connections.schemas import ConnectionView, ConnectRequest, ConnectStarted
from app.deps import AnyMember, ConnectionServiceDep, Manager, TemplatesDep
from app.openapi import AUTH_ERRORS, problem_responses

router = APIRouter(tags=["connection"])

# The callback URL carries the code and state: keep it out of caches and Referer headers.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


@router.post(
    "/v1/workspaces/{workspace_id}/salesforce/connect",
    summary="Connect (or reauthorize) a Salesforce account",
    description="`web_server` (the default): returns the Salesforce authorization URL for the "
    "web app to open in a new tab, with guidance for the Salesforce admin. The link is single "
    "use, bound to this workspace and user, and expires after 10 minutes. "
    "`client_credentials`: connects at once with an External Client App's consumer key and "
    "secret (its run-as user is the connected user) and returns the connection. "
    "While connected, this is the reauthorization path: it must end on the same Salesforce "
    "organization. See docs/connecting.md.",
    response_model=ConnectStarted | ConnectionView,
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.ValidationFailed,
        errors.SalesforceCredentialsRejected,
        errors.SalesforceApiDisabled,
        errors.SalesforceAlreadyConnected,
        errors.SalesforceLoginRestricted,
        errors.SalesforceUnavailable,
    ),
)
async def connect(
    workspace_id: str,
    caller: Manager,
    service: ConnectionServiceDep,
    body: Annotated[ConnectRequest | None, Body()] = None,
) -> ConnectStarted | ConnectionView:
    return await service.start(workspace_id, caller.user_id, body or ConnectRequest())


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "json" in accept and "text/html" not in accept


def _page(templates: TemplatesDep, template: str, status: int, **context: Any) -> HTMLResponse:
    return HTMLResponse(
        templates.get_template(template).render(**context),
        status_code=status,
        headers=PAGE_HEADERS,
    )


@router.get(
    "/v1/salesforce/oauth/callback",
    summary="Salesforce redirects the browser here after the user allowed or denied access",
    description="Renders an HTML page (or, with `Accept: application/json`, the connection "
    "object or a problem document). Every failure stores nothing.",
    response_model=ConnectionView,
    tags=["connection", "browser"],
    openapi_extra={"x-caller": "browser"},
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **problem_responses(
            errors.OAuthStateInvalid,
            errors.SalesforceAccessDenied,
            errors.SalesforceAuthorizationFailed,
            errors.SalesforceApiDisabled,
            errors.SalesforceAlreadyConnected,
            errors.SalesforceUnavailable,
            errors.SalesforceLoginRestricted,
            errors.SalesforceClientRejected,
            html=True,
        ),
    },
)
async def oauth_callback(
    request: Request,
    service: ConnectionServiceDep,
    templates: TemplatesDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    try:
        connected = await service.complete(
            code=code, state=state, error=error, error_description=error_description
        )
    except ConnectFailed as failure:
        if _wants_json(request):
            return errors.problem_response(failure.error)
        return _page(
            templates,
            "error.html",
            failure.error.status,
            problem=failure.page_problem(),
            return_url=failure.return_url,
        )
    if _wants_json(request):
        return JSONResponse(connected.connection.model_dump(mode="json"), headers=PAGE_HEADERS)
    return _page(
        templates,
        "connected.html",
        200,
        connection=connected.connection,
        reauthorized=connected.reauthorized,
        return_url=connected.return_url,
    )


@router.get(
    "/v1/workspaces/{workspace_id}/salesforce/connection",
    summary="The workspace's Salesforce connection",
    description="`status` is `connected`, `reauthorization_required` or `disconnected` (then "
    "every other field but `last_connect_attempt` is null). Never 404.",
    response_model=ConnectionView,
    responses=problem_responses(*AUTH_ERRORS),
)
async def get_connection(
    workspace_id: str, caller: AnyMember, service: ConnectionServiceDep
) -> ConnectionView:
    return await service.status(workspace_id)


@router.delete(
    "/v1/workspaces/{workspace_id}/salesforce/connection",
    summary="Disconnect Salesforce",
    description="Deletes the connection and purges the workspace's cached Salesforce data; "
    "when no other workspace uses its Salesforce grant, revokes it at Salesforce (best effort) "
    "and deletes its tokens (and client secret). Settings are kept. Idempotent.",
    status_code=204,
    response_class=Response,
    responses=problem_responses(*AUTH_ERRORS),
)
async def disconnect(workspace_id: str, caller: Manager, service: ConnectionServiceDep) -> Response:
    await service.disconnect(workspace_id, caller.user_id)
    return Response(status_code=204)
