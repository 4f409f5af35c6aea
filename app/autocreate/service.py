"""Auto-create logic behind the HTTP endpoints: the Outbound Message listener, webhook setup,
status and the workspace's respond.io credentials. No FastAPI imports here."""

from __future__ import annotations

import logging
import secrets
from dataclasses import InitVar, dataclass, field

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from app.autocreate.ingest import AUDIT_FIELDS, BASE_FIELDS
from app.autocreate.outcomes import INTAKE_REASONS, WAITING
from app.autocreate.readback import ContactReader, LanguageFields
from app.autocreate.schemas import (
    AutoCreateStatus,
    FailedCounts,
    LastError,
    RespondioCredentialsStatus,
    SkippedCounts,
    WebhookSetup,
)
from app.autocreate.waiting import TOKEN_MISSING_MESSAGE, resume_waiting_in
from app.autocreate.webhook import (
    Delivery,
    DeliveryResult,
    OutboundMessageListener,
    remember_key,
)
from app.config import Settings
from app.crypto import TokenCipher, sha256_hex
from app.db import Database
from app.errors import SalesforceNotConnected
from app.models import (
    AutocreateContact,
    AutocreateWorkspace,
    Connection,
    RespondioCredential,
    WorkspaceSettings,
)
from app.salesforce.client import SalesforceClient

logger = logging.getLogger("app.autocreate.service")

WEBHOOK_PATH = "/v1/webhooks/salesforce/outbound-messages/"
__all__ = ["AutocreateService", "Delivery", "DeliveryResult"]


@dataclass(eq=False, repr=False)
class AutocreateService:
    db: Database
    cipher: TokenCipher
    settings: Settings
    salesforce: InitVar[SalesforceClient]
    _listener: OutboundMessageListener = field(init=False)

    def __post_init__(self, salesforce: SalesforceClient) -> None:
        self._listener = OutboundMessageListener(
            self.db,
            ContactReader(salesforce, LanguageFields(salesforce, self.settings)),
            self.settings,
        )

    # -- Outbound Messages ---------------------------------------------------------------

    async def receive_outbound_message(self, key: str, body: bytes) -> DeliveryResult:
        """Store every notification's Contact, as read back from Salesforce, before the
        caller sends the Ack (app/autocreate/webhook.py)."""
        return await self._listener.receive(key, body)

    # -- webhook setup -------------------------------------------------------------------

    async def webhook_setup(self, workspace_id: str) -> WebhookSetup:
        async with self.db.transaction() as session:
            connection = await session.scalar(
                select(Connection).where(Connection.workspace_id == workspace_id)
            )
            if connection is None:
                raise SalesforceNotConnected()
            if connection.webhook_key_encrypted:
                key = self.cipher.decrypt(connection.webhook_key_encrypted)
            else:
                # A connection made before webhook keys existed gets one now.
                key = secrets.token_urlsafe(32)
                connection.webhook_key_hash = sha256_hex(key)
                connection.webhook_key_encrypted = self.cipher.encrypt(key)
            await remember_key(session, sha256_hex(key), workspace_id)
        url = self.settings.public_base_url.rstrip("/") + WEBHOOK_PATH + key
        language = self.settings.autocreate_language_field.strip()
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
                "Outbound Messages exist only in the Enterprise, Performance, Unlimited and "
                "Developer editions of Salesforce. Other editions (e.g. Professional) skip these "
                "steps: their new Contacts are created by the periodic reconciliation alone.",
                "Each message is only a hint: the service reads the Contacts it names back "
                "from Salesforce (one query per message) before creating anything.",
            ],
        )

    # -- status --------------------------------------------------------------------------

    async def status(self, workspace_id: str) -> AutoCreateStatus:
        async with self.db.transaction() as session:
            ws = await session.get(WorkspaceSettings, workspace_id)
            state = await session.get(AutocreateWorkspace, workspace_id)
            token = await session.get(RespondioCredential, workspace_id)
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
        totals = {"created": 0, "pending": 0, WAITING: 0}
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
                    source=_error_source(last_failed),
                    message=last_failed.last_error,
                    salesforce_contact_id=last_failed.salesforce_contact_id,
                )
            )
        enabled = bool(ws and ws.auto_create_enabled)
        waiting_for = None
        if token is None and (enabled or totals[WAITING]):
            waiting_for = "respondio_token"
            if not totals[WAITING]:  # nothing parked yet: say so all the same
                errors.append(LastError(at=None, source="job", message=TOKEN_MISSING_MESSAGE))
        errors.sort(key=lambda e: e.at.timestamp() if e.at else 0.0)
        return AutoCreateStatus(
            enabled=enabled,
            created=totals["created"],
            skipped=skipped,
            failed=failed,
            pending=totals["pending"] + totals[WAITING],
            waiting=totals[WAITING],
            waiting_for=waiting_for,
            watermark=state.watermark if state else None,
            last_reconciled_at=state.last_reconciled_at if state else None,
            last_error=errors[-1] if errors else None,
            paused_reason=state.paused_reason if state else None,
        )

    # -- respond.io credentials ----------------------------------------------------------

    async def set_respondio_token(
        self, workspace_id: str, api_token: str, user_id: str
    ) -> RespondioCredentialsStatus:
        async with self.db.transaction() as session:
            statement = insert(RespondioCredential).values(
                workspace_id=workspace_id,
                api_token_encrypted=self.cipher.encrypt(api_token),
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
            # Contacts that were waiting for a token get their jobs back, in this transaction.
            resumed = await resume_waiting_in(session, workspace_id)
        logger.info(
            "autocreate.respondio_credentials.updated",
            extra={"workspace_id": workspace_id, "user_id": user_id, "resumed": len(resumed)},
        )
        return RespondioCredentialsStatus(configured=True, updated_at=updated_at)

    async def respondio_token_status(self, workspace_id: str) -> RespondioCredentialsStatus:
        async with self.db.transaction() as session:
            row = await session.get(RespondioCredential, workspace_id)
        if row is None:
            return RespondioCredentialsStatus(configured=False)
        return RespondioCredentialsStatus(configured=True, updated_at=row.updated_at)


def _error_source(row: AutocreateContact) -> str:
    """Where a row's error arose: its job, or its intake (a Contact recorded as skipped
    when it arrived, which never had a job)."""
    if row.status == "skipped" and row.reason in INTAKE_REASONS:
        return {"reconcile": "reconciliation", "stream": "stream"}.get(row.source, "webhook")
    return "job"
