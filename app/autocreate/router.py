"""HTTP for auto-create: the Salesforce Outbound Message listener (SOAP), webhook setup,
status, and the workspace's respond.io API token."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from app.autocreate import soap
from app.autocreate.schemas import (
    AutoCreateStatus,
    RespondioCredentialsIn,
    RespondioCredentialsStatus,
    WebhookSetup,
)
from app.autocreate.service import Delivery
from app.deps import AnyMember, AutocreateServiceDep, Manager, SettingsDep
from app.errors import SERVICE_RETRY_AFTER_SECONDS, SalesforceNotConnected, unavailable_database
from app.kit.body import BodyTooLarge, read_bounded
from app.openapi import AUTH_ERRORS, problem_responses

logger = logging.getLogger("app.autocreate")
router = APIRouter(tags=["auto-create"])
webhook_router = APIRouter(tags=["salesforce webhooks"])


# -- Salesforce Outbound Messages -------------------------------------------------------


def _soap(body: bytes, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=body, status_code=status, media_type=soap.SOAP_CONTENT_TYPE, headers=headers
    )


_SOAP_XML = {"text/xml": {"schema": {"type": "string"}}}


@webhook_router.post(
    "/v1/webhooks/salesforce/outbound-messages/{key}",
    summary="Salesforce Outbound Message listener (SOAP 1.1)",
    description="Called by Salesforce, not by respond.io. Every notification is stored "
    "(idempotently, by notification id and Contact id) before the `<Ack>true</Ack>` is "
    "returned. The message is only a hint: the Contacts it names are read back from "
    "Salesforce (one query per message) and only Salesforce's values are used; a "
    "notification of a deleted Contact (empty sObject) is skipped. While auto-create is off "
    "or Salesforce is disconnected or needs reauthorization, messages are acknowledged and "
    "dropped. When Salesforce cannot be read, 503 (not acknowledged: Salesforce retries).",
    responses={
        200: {"description": "Acknowledged", "content": _SOAP_XML},
        400: {"description": "Malformed or hostile XML, or too large", "content": _SOAP_XML},
        403: {"description": "OrganizationId is not the connected org", "content": _SOAP_XML},
        404: {"description": "Unknown key", "content": _SOAP_XML},
        408: {"description": "The message did not arrive in time", "content": _SOAP_XML},
        503: {
            "description": "Salesforce or the service's database could not be read; retried "
            "(`Retry-After` when it is the database)",
            "content": _SOAP_XML,
        },
    },
    response_class=Response,
)
async def outbound_message(
    key: str, request: Request, service: AutocreateServiceDep, settings: SettingsDep
) -> Response:
    limit = settings.webhook_max_body_bytes
    try:
        body = await read_bounded(request, limit, timeout=settings.request_body_timeout_seconds)
    except BodyTooLarge:
        return _soap(soap.fault("soapenv:Client", f"message larger than {limit} bytes"), 400)
    except TimeoutError:
        return _soap(
            soap.fault("soapenv:Client", "the message did not arrive in time"),
            408,
            headers={"Connection": "close"},
        )
    try:
        result = await service.receive_outbound_message(key, body)
    except Exception as exc:
        if not unavailable_database(exc):
            raise
        # Not acknowledged, in words Salesforce reads: it retries the message later.
        logger.warning(
            "autocreate.webhook.database_unavailable", extra={"error": type(exc).__name__}
        )
        return _soap(
            soap.fault("soapenv:Server", "temporarily unavailable, retry later"),
            503,
            headers={"Retry-After": str(SERVICE_RETRY_AFTER_SECONDS)},
        )
    if result.acknowledged:
        return _soap(soap.ACK, 200)
    if result.outcome is Delivery.UNKNOWN_KEY:
        return _soap(soap.fault("soapenv:Client", "unknown endpoint"), 404)
    if result.outcome is Delivery.UNAVAILABLE:
        # Not acknowledged: Salesforce retries the message later (for up to 24 hours).
        return _soap(soap.fault("soapenv:Server", result.detail), 503)
    if result.outcome is Delivery.WRONG_ORG:
        return _soap(
            soap.fault("soapenv:Client", "OrganizationId is not the connected organization"),
            403,
        )
    return _soap(soap.fault("soapenv:Client", result.detail or "invalid message"), 400)


# -- workspace endpoints ----------------------------------------------------------------


@router.get(
    "/v1/workspaces/{workspace_id}/salesforce/webhook",
    response_model=WebhookSetup,
    summary="How to point a Salesforce Outbound Message at this workspace",
    responses=problem_responses(*AUTH_ERRORS, SalesforceNotConnected),
)
async def webhook_setup(
    workspace_id: str, caller: Manager, service: AutocreateServiceDep
) -> WebhookSetup:
    return await service.webhook_setup(workspace_id)


@router.get(
    "/v1/workspaces/{workspace_id}/salesforce/auto-create/status",
    response_model=AutoCreateStatus,
    summary="Outcomes of automatic contact creation",
    responses=problem_responses(*AUTH_ERRORS),
)
async def auto_create_status(
    workspace_id: str, caller: Manager, service: AutocreateServiceDep
) -> AutoCreateStatus:
    return await service.status(workspace_id)


@router.put(
    "/v1/workspaces/{workspace_id}/respondio-credentials",
    response_model=RespondioCredentialsStatus,
    summary="Store the workspace's respond.io API token (encrypted, never returned)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def put_respondio_credentials(
    workspace_id: str, body: RespondioCredentialsIn, caller: Manager, service: AutocreateServiceDep
) -> RespondioCredentialsStatus:
    return await service.set_respondio_token(
        workspace_id, body.api_token.get_secret_value(), caller.user_id
    )


@router.get(
    "/v1/workspaces/{workspace_id}/respondio-credentials",
    response_model=RespondioCredentialsStatus,
    summary="Whether a respond.io API token is stored",
    responses=problem_responses(*AUTH_ERRORS),
)
async def get_respondio_credentials(
    workspace_id: str, caller: AnyMember, service: AutocreateServiceDep
) -> RespondioCredentialsStatus:
    return await service.respondio_token_status(workspace_id)
