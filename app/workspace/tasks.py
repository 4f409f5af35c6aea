"""What every Task this service writes shares: the org's closed Task status."""

from __future__ import annotations

from app.salesforce.client import Credentials, SalesforceClient

CLOSED_STATUS_QUERY = (
    "SELECT ApiName, MasterLabel, SortOrder FROM TaskStatus WHERE IsClosed = true "
    "ORDER BY SortOrder ASC"
)


async def closed_task_status(
    salesforce: SalesforceClient,
    workspace_id: str,
    *,
    credentials: Credentials | None = None,
    purpose: str = "activity",
) -> str:
    """The org's closed task status: "Completed" when it has one, else its first closed
    status (one query; callers keep the answer per connection)."""
    rows = await salesforce.query(
        workspace_id, CLOSED_STATUS_QUERY, credentials=credentials, purpose=purpose
    )
    names = [str(r.get("ApiName") or r.get("MasterLabel")) for r in rows]
    return "Completed" if "Completed" in names else (names[0] if names else "Completed")
