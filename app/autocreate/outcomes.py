"""Outcome vocabulary of auto-create and the checks that park a job without calling out."""

from __future__ import annotations

from datetime import datetime

from app.autocreate.ingest import INVALID_CHARACTERS, whole_second
from app.models import ConnectionStatus, WorkspaceSettings
from app.salesforce.values import same_id

AUTO_CREATED_TAG = "Auto-created: Salesforce"

__all__ = ["INVALID_CHARACTERS"]  # skipped: data PostgreSQL cannot store (NUL)

STATUSES = ("pending", "waiting", "created", "skipped", "failed")

# skipped
NO_IDENTIFIER = "no_identifier"
BULK_IMPORT = "bulk_import"
ALREADY_EXISTS = "already_exists"
AUTO_CREATE_DISABLED = "auto_create_disabled"
SALESFORCE_DISCONNECTED = "salesforce_disconnected"
REAUTHORIZATION_REQUIRED = "reauthorization_required"
CREATED_BEFORE_ENABLED = "created_before_enabled"
NOT_A_CONTACT = "not_a_contact"  # an Outbound Message named a record that is not a Contact
NOT_FOUND_IN_SALESFORCE = "not_found_in_salesforce"  # deleted, or never existed
# recorded when a Contact arrives (it never gets a job)
INTAKE_REASONS = frozenset({NOT_A_CONTACT, NOT_FOUND_IN_SALESFORCE, INVALID_CHARACTERS})
# waiting (not settled: resumed when the respond.io token is set)
WAITING = "waiting"
# failed
RESPONDIO_NOT_CONFIGURED = "respondio_not_configured"
RESPONDIO_UNAUTHORIZED = "respondio_unauthorized"
RESPONDIO_REJECTED = "respondio_rejected"
RESPONDIO_UNAVAILABLE = "respondio_unavailable"


def same_org(a: str | None, b: str | None) -> bool:
    """Salesforce ids compare on their 15 case-sensitive characters (15 and 18 forms)."""
    return bool(a) and bool(b) and same_id(a, b)  # type: ignore[arg-type]


def precondition_failure(
    *,
    auto_create_enabled: bool | None,
    enabled_at: datetime | None,
    connection_status: str | None,
    connection_organization_id: str | None,
    organization_id: str,
    sf_created_at: datetime | None,
) -> str | None:
    """Why this contact must not be created now, or None. Such a job is parked with the
    reason instead of being retried: the state it met is a decision, not a glitch."""
    if not auto_create_enabled:
        return AUTO_CREATE_DISABLED
    if connection_status is None or not same_org(connection_organization_id, organization_id):
        return SALESFORCE_DISCONNECTED
    if connection_status != ConnectionStatus.CONNECTED:
        return REAUTHORIZATION_REQUIRED
    if sf_created_at is not None and enabled_at is not None and sf_created_at < enabled_at:
        return CREATED_BEFORE_ENABLED
    return None


def enabled_since(settings: WorkspaceSettings) -> datetime | None:
    """When auto-create was switched on, to the second (Salesforce's CreatedDate precision)."""
    return whole_second_or_none(settings.auto_create_enabled_at or settings.updated_at)


def whole_second_or_none(moment: datetime | None) -> datetime | None:
    return whole_second(moment) if moment is not None else None
