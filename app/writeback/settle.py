"""Settling a write whose outcome is unknown (docs/api.md, "Creating records"): Salesforce may
have made the record although its answer was lost (a 5xx, a timeout, a cut connection) or the
request that sent it died. The retry looks for that record before writing again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import Settings
from app.salesforce.client import Credentials, SalesforceClient
from app.salesforce.soql import format_soql

# How far before the recorded intent a record may carry its CreatedDate: Salesforce's clock
# and the database's are not the same clock.
SETTLE_WINDOW = timedelta(minutes=10)
# Identifying values of a created Contact, Lead or Case, compared in Python (Email without
# case); the first one given of INDEXED filters the query.
IDENTIFYING = ("Email", "LastName", "FirstName", "Company", "ContactId", "Subject")
INDEXED = ("Email", "LastName", "ContactId")


def lease_of(settings: Settings) -> timedelta:
    """How long an attempt may be in flight before another request may settle it
    (`WRITEBACK_LEASE_SECONDS`, checked at start-up to outlast an attempt)."""
    return timedelta(seconds=settings.writeback_lease_seconds)


def settle_since(intent_at: datetime) -> datetime:
    return (intent_at - SETTLE_WINDOW).astimezone(UTC).replace(microsecond=0)


def _same(name: str, wanted: Any, held: Any) -> bool:
    if name == "Email" and isinstance(wanted, str) and isinstance(held, str):
        return wanted.casefold() == held.casefold()
    return bool(wanted == held)


async def find_created(
    salesforce: SalesforceClient,
    credentials: Credentials,
    sobject: str,
    values: dict[str, Any],
    user_id: str | None,
    intent_at: datetime,
) -> str | None:
    """The id of a `sobject` record created by the connection's user since the intent whose
    identifying values are the ones written, or None. Email is indexed, so it filters the
    query when given; otherwise LastName does."""
    names = [n for n in IDENTIFYING if values.get(n) is not None]
    key = next((n for n in INDEXED if n in names), "LastName")
    soql = format_soql(
        "SELECT {:fields} FROM {:name} WHERE {:name} = {} AND CreatedDate >= {} "
        "AND CreatedById = {} ORDER BY CreatedDate ASC LIMIT 200",
        ["Id", *names],
        sobject,
        key,
        values.get(key),
        settle_since(intent_at),
        user_id,
    )
    rows = await salesforce.query(
        credentials.workspace_id, soql, credentials=credentials, purpose="create"
    )
    for row in rows:
        if all(_same(n, values[n], row.get(n)) for n in names):
            return str(row["Id"])
    return None
