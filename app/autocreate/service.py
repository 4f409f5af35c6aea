"""Auto-create logic behind the HTTP endpoints: the Outbound Message listener, webhook setup,
status and the workspace's respond.io credentials. No FastAPI imports here."""

from __future__ import annotations

import enum
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.autocreate import soap
from app.autocreate.ingest import AUDIT_FIELDS, BASE_FIELDS, ContactSeen, store_contacts
from app.autocreate.outcomes import enabled_since, same_org
from app.autocreate.schemas import (
    AutoCreateStatus,
    FailedCounts,
    LastError,
    RespondioCredentialsStatus,
    SkippedCounts,
    WebhookSetup,
)
from app.config import Settings
from app.crypto import TokenCipher, sha256_hex
from app.db import Database
from app.errors import SalesforceNotConnected
from app.models import (
    AutocreateContact,
    AutocreateNotification,
    AutocreateWebhookKey,
    AutocreateWorkspace,
    Connection,
    ConnectionStatus,
    RespondioCredential,
    WorkspaceSettings,
)

logger = logging.getLogger("app.autocreate.service")

WEBHOOK_PATH = "/v1/webhooks/salesforce/outbound-messages/"
MAX_KEY_LENGTH = 256


class Delivery(enum.Enum):
    STORED = "stored"  # acknowledged after storing
    DROPPED = "dropped"  # acknowledged, nothing stored (auto-create off, disconnected...)
    UNKNOWN_KEY = "unknown_key"
    WRONG_ORG = "wrong_org"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Delivery
    detail: str = ""
    stored: int = 0

    @property
    def acknowledged(self) -> bool:
        return self.outcome in (Delivery.STORED, Delivery.DROPPED)


class AutocreateService:
    def __init__(self, db: Database, cipher: TokenCipher, settings: Settings) -> None:
        self._db = db
        self._cipher = cipher
        self._settings = settings

    # -- Outbound Messages ---------------------------------------------------------------

    async def receive_outbound_message(self, key: str, body: bytes) -> DeliveryResult:
        """Store every notification (idempotently) before the caller sends the Ack."""
        if not key or len(key) > MAX_KEY_LENGTH:
            return DeliveryResult(Delivery.UNKNOWN_KEY)
        key_hash = sha256_hex(key)
        async with self._db.transaction() as session:
            connection = await session.scalar(
                select(Connection).where(Connection.webhook_key_hash == key_hash)
            )
            if connection is None or not hmac.compare_digest(
                connection.webhook_key_hash or "", key_hash
            ):
                return await self._without_connection(session, key_hash)
            workspace_id = connection.workspace_id
            try:
                message = soap.parse_outbound_message(body)
            except soap.SoapMessageInvalid as exc:
                logger.info(
                    "autocreate.webhook.invalid",
                    extra={"workspace_id": workspace_id, "error": str(exc)},
                )
                return DeliveryResult(Delivery.INVALID, str(exc))
            if not same_org(message.organization_id, connection.organization_id):
                logger.warning(
                    "autocreate.webhook.wrong_org",
                    extra={
                        "workspace_id": workspace_id,
                        "organization_id": message.organization_id,
                    },
                )
                return DeliveryResult(Delivery.WRONG_ORG)
            await self._remember_key(session, key_hash, workspace_id)
            ws = await session.get(WorkspaceSettings, workspace_id)
            if (
                ws is None
                or not ws.auto_create_enabled
                or connection.status != ConnectionStatus.CONNECTED
            ):
                reason = (
                    "auto_create_disabled"
                    if ws is None or not ws.auto_create_enabled
                    else (connection.status)
                )
                logger.info(
                    "autocreate.webhook.dropped",
                    extra={
                        "workspace_id": workspace_id,
                        "reason": reason,
                        "notifications": len(message.notifications),
                    },
                )
                return DeliveryResult(Delivery.DROPPED, reason)
            stored = await self._store(session, connection, ws, message)
        logger.info(
            "autocreate.webhook.stored",
            extra={
                "workspace_id": workspace_id,
                "notifications": len(message.notifications),
                "new_contacts": stored,
            },
        )
        return DeliveryResult(Delivery.STORED, stored=stored)

    async def _without_connection(self, session: AsyncSession, key_hash: str) -> DeliveryResult:
        """A key we handed out to a workspace that has since disconnected is acknowledged
        and dropped (Salesforce would otherwise retry for 24 hours); any other key is 404."""
        remembered = await session.get(AutocreateWebhookKey, key_hash)
        if remembered is not None and hmac.compare_digest(remembered.key_hash, key_hash):
            still_connected = await session.scalar(
                select(Connection.id).where(Connection.workspace_id == remembered.workspace_id)
            )
            if still_connected is None:
                logger.info(
                    "autocreate.webhook.dropped",
                    extra={"workspace_id": remembered.workspace_id, "reason": "disconnected"},
                )
                return DeliveryResult(Delivery.DROPPED, "disconnected")
        return DeliveryResult(Delivery.UNKNOWN_KEY)

    async def _store(
        self,
        session: AsyncSession,
        connection: Connection,
        ws: WorkspaceSettings,
        message: soap.OutboundMessage,
    ) -> int:
        workspace_id = connection.workspace_id
        by_notification = {n.notification_id: n for n in message.notifications}
        if not by_notification:
            return 0
        inserted = await session.scalars(
            insert(AutocreateNotification)
            .values(
                [
                    {
                        "workspace_id": workspace_id,
                        "notification_id": n.notification_id,
                        "salesforce_contact_id": n.record_id,
                    }
                    for n in by_notification.values()
                ]
            )
            .on_conflict_do_nothing()
            .returning(AutocreateNotification.notification_id)
        )
        new = [by_notification[nid] for nid in inserted]
        floor = enabled_since(ws)
        language_field = self._settings.autocreate_language_field.strip() or None
        contacts = []
        for notification in new:
            if notification.sobject_type not in ("Contact", ""):
                continue
            contact = ContactSeen.from_fields(notification.fields, language_field=language_field)
            if floor is not None and contact.created_at is not None and contact.created_at < floor:
                continue  # created before auto-create was switched on
            contacts.append(contact)
        new_ids = await store_contacts(
            session,
            workspace_id=workspace_id,
            organization_id=connection.organization_id,
            source="webhook",
            contacts=contacts,
            settle=timedelta(seconds=self._settings.autocreate_bulk_settle_seconds),
        )
        return len(new_ids)

    async def _remember_key(self, session: AsyncSession, key_hash: str, workspace_id: str) -> None:
        await session.execute(
            insert(AutocreateWebhookKey)
            .values(key_hash=key_hash, workspace_id=workspace_id)
            .on_conflict_do_nothing()
        )

    # -- webhook setup -------------------------------------------------------------------

    async def webhook_setup(self, workspace_id: str) -> WebhookSetup:
        async with self._db.transaction() as session:
            connection = await session.scalar(
                select(Connection).where(Connection.workspace_id == workspace_id)
            )
            if connection is None:
                raise SalesforceNotConnected()
            if connection.webhook_key_encrypted:
                key = self._cipher.decrypt(connection.webhook_key_encrypted)
            else:
                # A connection made before webhook keys existed gets one now.
                key = secrets.token_urlsafe(32)
                connection.webhook_key_hash = sha256_hex(key)
                connection.webhook_key_encrypted = self._cipher.encrypt(key)
            await self._remember_key(session, sha256_hex(key), workspace_id)
        url = self._settings.public_base_url.rstrip("/") + WEBHOOK_PATH + key
        language = self._settings.autocreate_language_field.strip()
        fields = BASE_FIELDS + AUDIT_FIELDS
        return WebhookSetup(
            outbound_message_url=url,
            fields_to_include=fields,
            optional_fields_to_include=[language] if language else [],
            setup_steps=[
                "In Salesforce Setup, open Process Automation > Outbound Messages and click New "
                "Outbound Message.",
                "Object: Contact. Name it, e.g. 'respond.io: new contact'.",
                "Endpoint URL: paste outbound_message_url exactly (it contains a secret key).",
                "Leave 'Send Session ID' unchecked.",
                "Fields to send: "
                + ", ".join(fields)
                + (f" (and {language} if your org has it)" if language else "")
                + ". CreatedDate and CreatedById are needed to recognise bulk imports.",
                "Save. Then create a Record-Triggered Flow on Contact that runs when 'A record "
                "is created', add an Action of type Outbound Message, pick the message above, "
                "and activate the Flow.",
                "Contacts created while the webhook is not set up are still found by the "
                "periodic reconciliation; the webhook makes creation immediate.",
            ],
        )

    # -- status --------------------------------------------------------------------------

    async def status(self, workspace_id: str) -> AutoCreateStatus:
        async with self._db.transaction() as session:
            ws = await session.get(WorkspaceSettings, workspace_id)
            state = await session.get(AutocreateWorkspace, workspace_id)
            counts = await session.execute(
                select(AutocreateContact.status, AutocreateContact.reason, func.count())
                .where(AutocreateContact.workspace_id == workspace_id)
                .group_by(AutocreateContact.status, AutocreateContact.reason)
            )
            last_failed = await session.scalar(
                select(AutocreateContact)
                .where(
                    AutocreateContact.workspace_id == workspace_id,
                    AutocreateContact.last_error.is_not(None),
                )
                .order_by(AutocreateContact.updated_at.desc())
                .limit(1)
            )
        totals = {"created": 0, "pending": 0}
        skipped = SkippedCounts()
        failed = FailedCounts()
        for status, reason, count in counts:
            if status == "skipped":
                skipped.total += count
                skipped.by_reason[reason or "unknown"] = count
            elif status == "failed":
                failed.total += count
                failed.by_reason[reason or "unknown"] = count
            else:
                totals[status] = totals.get(status, 0) + count
        errors = []
        if state is not None and state.last_error:
            errors.append(
                LastError(at=state.last_error_at, source="reconciliation", message=state.last_error)
            )
        if last_failed is not None and last_failed.last_error:
            errors.append(
                LastError(
                    at=last_failed.updated_at,
                    source="job",
                    message=last_failed.last_error,
                    salesforce_contact_id=last_failed.salesforce_contact_id,
                )
            )
        errors.sort(key=lambda e: e.at.timestamp() if e.at else 0.0)
        return AutoCreateStatus(
            enabled=bool(ws and ws.auto_create_enabled),
            created=totals["created"],
            skipped=skipped,
            failed=failed,
            pending=totals["pending"],
            watermark=state.watermark if state else None,
            last_reconciled_at=state.last_reconciled_at if state else None,
            last_error=errors[-1] if errors else None,
            paused_reason=state.paused_reason if state else None,
        )

    # -- respond.io credentials ----------------------------------------------------------

    async def set_respondio_token(
        self, workspace_id: str, api_token: str, user_id: str
    ) -> RespondioCredentialsStatus:
        async with self._db.transaction() as session:
            statement = insert(RespondioCredential).values(
                workspace_id=workspace_id,
                api_token_encrypted=self._cipher.encrypt(api_token),
                updated_by=user_id,
            )
            row = await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["workspace_id"],
                    set_={
                        "api_token_encrypted": statement.excluded.api_token_encrypted,
                        "updated_by": statement.excluded.updated_by,
                        "updated_at": func.now(),
                    },
                ).returning(RespondioCredential.updated_at)
            )
            updated_at = row.scalar_one()
        logger.info(
            "autocreate.respondio_credentials.updated",
            extra={"workspace_id": workspace_id, "user_id": user_id},
        )
        return RespondioCredentialsStatus(configured=True, updated_at=updated_at)

    async def respondio_token_status(self, workspace_id: str) -> RespondioCredentialsStatus:
        async with self._db.transaction() as session:
            row = await session.get(RespondioCredential, workspace_id)
        if row is None:
            return RespondioCredentialsStatus(configured=False)
        return RespondioCredentialsStatus(configured=True, updated_at=row.updated_at)
