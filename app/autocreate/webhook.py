"""The Outbound Message listener's logic: authenticate the message, read the Contacts it names
back from Salesforce (its body is only a hint), store them, then let the router Ack.

Three short steps, no transaction open across the Salesforce call: check the key, the org
and the workspace's state and find the notifications not seen before; read those Contacts by
id (one SOQL query per message); store notification ids and Contacts in one transaction.
Salesforce delivers at least once, so a retried message costs no query.
"""

from __future__ import annotations

import enum
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.autocreate import soap
from app.autocreate.ingest import ContactSeen, Skip, skip_contacts, store_contacts
from app.autocreate.outcomes import NOT_A_CONTACT, NOT_FOUND_IN_SALESFORCE, enabled_since, same_org
from app.autocreate.readback import ContactReader, is_contact_id
from app.config import Settings
from app.crypto import sha256_hex
from app.db import Database
from app.models import (
    AutocreateNotification,
    AutocreateWebhookKey,
    Connection,
    ConnectionStatus,
    WorkspaceSettings,
)
from app.salesforce.errors import NotConnected, ReauthorizationRequired, SalesforceError

logger = logging.getLogger("app.autocreate.webhook")

MAX_KEY_LENGTH = 256


class Delivery(enum.Enum):
    STORED = "stored"  # acknowledged after storing
    DROPPED = "dropped"  # acknowledged, nothing stored (auto-create off, disconnected...)
    UNKNOWN_KEY = "unknown_key"
    WRONG_ORG = "wrong_org"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"  # Salesforce could not be read: not acknowledged, it retries


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Delivery
    detail: str = ""
    stored: int = 0

    @property
    def acknowledged(self) -> bool:
        return self.outcome in (Delivery.STORED, Delivery.DROPPED)


@dataclass(frozen=True, slots=True)
class _Accepted:
    workspace_id: str
    organization_id: str
    floor: datetime | None
    new: list[soap.Notification]


async def remember_key(session: AsyncSession, key_hash: str, workspace_id: str) -> None:
    await session.execute(
        insert(AutocreateWebhookKey)
        .values(key_hash=key_hash, workspace_id=workspace_id)
        .on_conflict_do_nothing()
    )


class OutboundMessageListener:
    def __init__(self, db: Database, reader: ContactReader, settings: Settings) -> None:
        self._db = db
        self._reader = reader
        self._settings = settings

    async def receive(self, key: str, body: bytes) -> DeliveryResult:
        """Store every new notification's Contact (idempotently) before the caller Acks."""
        if not key or len(key) > MAX_KEY_LENGTH:
            return DeliveryResult(Delivery.UNKNOWN_KEY)
        accepted = await self._accept(sha256_hex(key), body)
        if isinstance(accepted, DeliveryResult):
            return accepted
        workspace_id = accepted.workspace_id
        ids = [n.record_id for n in accepted.new if n.record_id and is_contact_id(n.record_id)]
        records: dict[str, dict[str, object]] = {}
        language_field: str | None = None
        if ids:
            try:
                records, language_field = await self._reader.read(workspace_id, ids)
            except (NotConnected, ReauthorizationRequired) as exc:
                reason = type(exc).__name__
                logger.info(
                    "autocreate.webhook.dropped",
                    extra={"workspace_id": workspace_id, "reason": reason},
                )
                return DeliveryResult(Delivery.DROPPED, reason)
            except SalesforceError as exc:
                logger.warning(
                    "autocreate.webhook.readback_failed",
                    extra={"workspace_id": workspace_id, "error_code": exc.error_code},
                )
                return DeliveryResult(Delivery.UNAVAILABLE, "Salesforce could not be read")
        stored = await self._store(accepted, records, language_field)
        logger.info(
            "autocreate.webhook.stored",
            extra={
                "workspace_id": workspace_id,
                "notifications": len(accepted.new),
                "new_contacts": stored,
            },
        )
        return DeliveryResult(Delivery.STORED, stored=stored)

    async def _accept(self, key_hash: str, body: bytes) -> _Accepted | DeliveryResult:
        """Key, org and workspace state checked; the notifications not stored before."""
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
            await remember_key(session, key_hash, workspace_id)
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
            by_id = {n.notification_id: n for n in message.notifications}
            seen = set(
                await session.scalars(
                    select(AutocreateNotification.notification_id).where(
                        AutocreateNotification.workspace_id == workspace_id,
                        AutocreateNotification.notification_id.in_(list(by_id)),
                    )
                )
            )
            return _Accepted(
                workspace_id=workspace_id,
                organization_id=connection.organization_id,
                floor=enabled_since(ws),
                new=[n for nid, n in by_id.items() if nid not in seen],
            )

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
        accepted: _Accepted,
        records: dict[str, dict[str, object]],
        language_field: str | None,
    ) -> int:
        if not accepted.new:
            return 0
        workspace_id = accepted.workspace_id
        by_notification = {n.notification_id: n for n in accepted.new}
        async with self._db.transaction() as session:
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
            contacts: list[ContactSeen] = []
            skips: list[Skip] = []
            deleted = 0
            for notification in (by_notification[nid] for nid in inserted):
                record_id = notification.record_id
                if record_id is None:
                    deleted += 1  # deleted before delivery: nothing to read, nothing to create
                    continue
                if not is_contact_id(record_id):
                    skips.append(Skip(record_id, NOT_A_CONTACT, "the id is not a Contact's"))
                    continue
                record = records.get(record_id[:15])
                if record is None:
                    skips.append(
                        Skip(record_id, NOT_FOUND_IN_SALESFORCE, "Salesforce has no such Contact")
                    )
                    continue
                contact = ContactSeen.from_fields(record, language_field=language_field)
                floor = accepted.floor
                if (
                    floor is not None
                    and contact.created_at is not None
                    and contact.created_at < floor
                ):
                    continue  # created before auto-create was switched on
                contacts.append(contact)
            await skip_contacts(
                session,
                workspace_id=workspace_id,
                organization_id=accepted.organization_id,
                source="webhook",
                skips=skips,
            )
            new_ids = await store_contacts(
                session,
                workspace_id=workspace_id,
                organization_id=accepted.organization_id,
                source="webhook",
                contacts=contacts,
                settle=timedelta(seconds=self._settings.autocreate_bulk_settle_seconds),
            )
        if deleted or skips:
            logger.info(
                "autocreate.webhook.skipped",
                extra={"workspace_id": workspace_id, "deleted": deleted, "skipped": len(skips)},
            )
        return len(new_ids)
