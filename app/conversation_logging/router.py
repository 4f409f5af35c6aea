"""HTTP for conversation logging (docs/conversation-logging.md): the respond.io webhook's
set-up, the receiver respond.io calls, and the logging list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from app import errors
from app.conversation_logging.schemas import (
    ConversationLoggingStatus,
    RespondioWebhookEvent,
    RespondioWebhookIn,
    RespondioWebhookOut,
    WebhookAccepted,
)
from app.deps import ConversationLoggingServiceDep, Manager
from app.kit.body import BodyTooLarge, read_bounded
from app.openapi import AUTH_ERRORS, json_body, problem_responses

router = APIRouter(tags=["conversation logging"])
webhook_router = APIRouter(tags=["respond.io webhooks"])

MAX_EVENT_BYTES = 1024 * 1024
SETUP = "/v1/workspaces/{workspace_id}/respondio-webhook"


@router.put(
    SETUP,
    response_model=RespondioWebhookOut,
    operation_id="put_respondio_webhook",
    summary="Store the respond.io webhook's signing key; answers the URL to paste in respond.io",
    responses=problem_responses(*AUTH_ERRORS, errors.ValidationFailed),
)
async def put_respondio_webhook(
    workspace_id: str,
    body: RespondioWebhookIn,
    caller: Manager,
    service: ConversationLoggingServiceDep,
) -> RespondioWebhookOut:
    return await service.set_webhook(
        workspace_id, body.signing_key.get_secret_value(), caller.user_id
    )


@router.get(
    SETUP,
    response_model=RespondioWebhookOut,
    operation_id="get_respondio_webhook",
    summary="The respond.io webhook's URL (the signing key is never shown)",
    responses=problem_responses(*AUTH_ERRORS, errors.NotFound),
)
async def get_respondio_webhook(
    workspace_id: str, caller: Manager, service: ConversationLoggingServiceDep
) -> RespondioWebhookOut:
    return await service.webhook(workspace_id)


@router.delete(
    SETUP,
    status_code=204,
    response_class=Response,
    operation_id="delete_respondio_webhook",
    summary="Forget the respond.io webhook: its URL answers 404 from now on",
    responses=problem_responses(*AUTH_ERRORS, errors.NotFound),
)
async def delete_respondio_webhook(
    workspace_id: str, caller: Manager, service: ConversationLoggingServiceDep
) -> Response:
    await service.delete_webhook(workspace_id)
    return Response(status_code=204)


@router.get(
    "/v1/workspaces/{workspace_id}/salesforce/conversation-logging",
    response_model=ConversationLoggingStatus,
    operation_id="get_conversation_logging",
    summary="The last 100 respond.io events and what became of their conversations",
    responses=problem_responses(*AUTH_ERRORS),
)
async def conversation_logging_status(
    workspace_id: str, caller: Manager, service: ConversationLoggingServiceDep
) -> ConversationLoggingStatus:
    return await service.status(workspace_id)


SignatureHeader = Annotated[
    str | None,
    Header(
        alias="X-Webhook-Signature",
        description="base64 of HMAC-SHA256 of the raw body with the webhook's signing key.",
    ),
]


@webhook_router.post(
    "/v1/webhooks/respondio/{key}",
    response_model=WebhookAccepted,
    operation_id="receive_respondio_webhook",
    summary="respond.io webhook receiver (called by respond.io)",
    description="Verifies the signature, stores a `conversation.closed` event (once per "
    "`event_id`) and answers at once; the conversation is logged to Salesforce afterwards by "
    "the worker. Other event types are acknowledged and ignored. The body is the event JSON "
    "(read raw: the signature covers its exact bytes).",
    openapi_extra=json_body(RespondioWebhookEvent),
    responses=problem_responses(
        errors.WebhookPayloadInvalid,
        errors.WebhookSignatureInvalid,
        errors.NotFound,
        errors.RequestTooLarge,
    ),
)
async def receive_respondio_webhook(
    key: str,
    request: Request,
    service: ConversationLoggingServiceDep,
    signature: SignatureHeader = None,
) -> WebhookAccepted:
    try:
        body = await read_bounded(request, MAX_EVENT_BYTES)
    except BodyTooLarge:
        raise errors.RequestTooLarge(f"The body may be at most {MAX_EVENT_BYTES} bytes.") from None
    return await service.receive(key, body, signature)
