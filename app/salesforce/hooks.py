"""What the Salesforce client is given (credentials, a token source, an observer of its calls,
a guard per org) and the small readers of its answers, apart from the client itself
(app.salesforce.client re-exports them)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from app.salesforce.errors import SalesforceError, SalesforceUnavailable
from app.salesforce.metrics import SALESFORCE_API_USAGE_RATIO

_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True, slots=True)
class Credentials:
    connection_id: uuid.UUID
    workspace_id: str
    organization_id: str
    instance_url: str
    access_token: str
    # The stored grant the token belongs to (shared by the workspaces of one Salesforce user).
    grant_id: uuid.UUID | None = None

    def __repr__(self) -> str:  # never print the token
        return f"Credentials(workspace_id={self.workspace_id!r}, org={self.organization_id!r})"


class TokenSource(Protocol):
    """Where the client gets a workspace's credentials, and fresh ones after a 401."""

    async def credentials(self, workspace_id: str) -> Credentials: ...

    async def refresh(self, workspace_id: str, stale_access_token: str) -> Credentials: ...


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call that reached Salesforce: whose it was, what for, the org's usage from the
    `Sforce-Limit-Info` header (used, limit) and the error it answered with, if any."""

    organization_id: str | None
    workspace_id: str | None
    purpose: str
    api_usage: tuple[int, int] | None
    error: SalesforceError | None


class CallObserver(Protocol):
    """Hears of every call that reached Salesforce. Must not block: it runs on the hot path."""

    def on_call(self, call: CallRecord) -> None: ...


def parse_limit_info(value: str | None) -> tuple[int, int] | None:
    """(used, limit) of a `Sforce-Limit-Info: api-usage=USED/LIMIT` header."""
    match = _LIMIT_INFO.search(value or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


class CallGuard(Protocol):
    """A circuit breaker per org (app.kit.breaker): `allow` is None to go ahead, else the
    seconds until Salesforce is tried again."""

    def allow(self, key: str) -> float | None: ...

    def succeeded(self, key: str) -> None: ...

    def failed(self, key: str) -> None: ...


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; SalesforceUnavailable when a 2xx answer is not one (a proxy's
    HTML page, a cut-off body): never a 500 of ours."""
    try:
        body = response.json()
    except ValueError as exc:
        raise SalesforceUnavailable("Salesforce's answer is not JSON") from exc
    if not isinstance(body, dict):
        raise SalesforceUnavailable("Salesforce's answer has an unexpected shape")
    return body


def records_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    records = body.get("records", [])
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SalesforceUnavailable("Salesforce's answer has an unexpected shape")
    return records


def record_limits(response: httpx.Response, organization_id: str | None) -> None:
    """The answer's api-usage ratio into metrics (no tenant label)."""
    usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
    if usage and organization_id and usage[1] > 0:
        SALESFORCE_API_USAGE_RATIO.observe(usage[0] / usage[1])
