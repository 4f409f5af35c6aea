"""Conversation logging, the HTTP side: the respond.io webhook's set-up, the receiver and the
logging list. The receiver only verifies, stores and queues: no Salesforce or respond.io call
is made before respond.io gets its answer (the worker does the rest, app/conversation_logging/
jobs.py)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from app import errors as app_errors
from app.config import Settings
from app.conversation_logging import repository
from app.conversation_logging.events import (
    CONVERSATION_CLOSED,
    EventInvalid,
    closed_conversation,
    event_type,
    parse_body,
    signature_valid,
)
from app.conversation_logging.schemas import (
    ConversationLoggingStatus,
    LoggedContact,
    LoggingEntry,
    OutcomeCounts,
    RespondioWebhookOut,
    WebhookAccepted,
)
from app.crypto import TokenCipher, sha256_hex
from app.db import Database

logger = logging.getLogger("app.conversation_logging")

WEBHOOK_PATH = "/v1/webhooks/respondio/"
MAX_KEY_LENGTH = 256
LISTED = 100


@dataclass
class ConversationLoggingService:
    db: Database
    cipher: TokenCipher
    settings: Settings

    def _url(self, key: str) -> RespondioWebhookOut:
        return RespondioWebhookOut(
            url=self.settings.public_base_url.rstrip("/") + WEBHOOK_PATH + key
        )

    async def set_webhook(
        self, workspace_id: str, signing_key: str, user_id: str
    ) -> RespondioWebhookOut:
        """Store the signing key; the URL's key is kept when there is one (the URL pasted in
        respond.io stays valid), else a new random one."""
        if not signing_key.strip():
            raise app_errors.ValidationFailed(
                "signing_key: must not be empty",
                errors=[{"field": "signing_key", "message": "must not be empty"}],
            )
        current = await repository.webhook_of(self.db, workspace_id)
        key = (
            self.cipher.decrypt(current.key_encrypted)
            if current is not None
            else secrets.token_urlsafe(32)
        )
        await repository.save_webhook(
            self.db,
            workspace_id,
            sha256_hex(key),
            self.cipher.encrypt(key),
            self.cipher.encrypt(signing_key),
            user_id,
        )
        logger.info("conversation_logging.webhook.saved", extra={"workspace_id": workspace_id})
        return self._url(key)

    async def webhook(self, workspace_id: str) -> RespondioWebhookOut:
        current = await repository.webhook_of(self.db, workspace_id)
        if current is None:
            raise app_errors.NotFound("No respond.io webhook is set up for this workspace.")
        return self._url(self.cipher.decrypt(current.key_encrypted))

    async def delete_webhook(self, workspace_id: str) -> None:
        if not await repository.delete_webhook(self.db, workspace_id):
            raise app_errors.NotFound("No respond.io webhook is set up for this workspace.")
        logger.info("conversation_logging.webhook.deleted", extra={"workspace_id": workspace_id})

    async def receive(self, key: str, body: bytes, signature: str | None) -> WebhookAccepted:
        """Verify, store, queue. Raises NotFound (unknown key), WebhookSignatureInvalid
        (nothing stored) or WebhookPayloadInvalid."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise app_errors.NotFound("Unknown webhook.")
        webhook = await repository.webhook_by_key(self.db, sha256_hex(key))
        if webhook is None:
            raise app_errors.NotFound("Unknown webhook.")
        workspace_id = webhook.workspace_id
        if not signature_valid(self.cipher.decrypt(webhook.signing_key_encrypted), body, signature):
            logger.warning(
                "conversation_logging.webhook.signature_invalid",
                extra={"workspace_id": workspace_id, "signed": bool(signature)},
            )
            raise app_errors.WebhookSignatureInvalid()
        try:
            payload = parse_body(body)
            kind = event_type(payload)
            if kind != CONVERSATION_CLOSED:
                logger.info(
                    "conversation_logging.webhook.ignored",
                    extra={"workspace_id": workspace_id, "event_type": kind[:64]},
                )
                return WebhookAccepted(status="ignored")
            event = closed_conversation(payload)
        except EventInvalid as exc:
            logger.info(
                "conversation_logging.webhook.invalid",
                extra={"workspace_id": workspace_id, "error": str(exc)},
            )
            raise app_errors.WebhookPayloadInvalid(str(exc)) from None
        stored = await repository.store_closed(self.db, workspace_id, event)
        logger.info(
            "conversation_logging.webhook.stored"
            if stored
            else "conversation_logging.webhook.duplicate",
            extra={"workspace_id": workspace_id, "conversation": event.conversation_key},
        )
        return WebhookAccepted(status="stored" if stored else "duplicate")

    async def status(self, workspace_id: str) -> ConversationLoggingStatus:
        entries, counts = await repository.recent(self.db, workspace_id, LISTED)
        return ConversationLoggingStatus(
            events=[
                LoggingEntry(
                    event_id=e.event.event_id,
                    contact=LoggedContact(
                        id=e.event.contact_id,
                        email=e.event.contact_email,
                        phone=e.event.contact_phone,
                    ),
                    outcome=(e.conversation.status if e.conversation else "pending"),  # type: ignore[arg-type]
                    reason=e.conversation.reason if e.conversation else None,
                    task_id=e.conversation.task_id if e.conversation else None,
                    task_url=e.conversation.task_url if e.conversation else None,
                    received_at=e.event.received_at,
                    processed_at=e.conversation.processed_at if e.conversation else None,
                )
                for e in entries
            ],
            counts=OutcomeCounts(**counts),
        )
