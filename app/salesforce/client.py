"""Explicit, typed Salesforce REST calls over the one shared httpx.AsyncClient.

On 401 INVALID_SESSION_ID the client asks its token source for fresh credentials once (a
single-flight refresh, see app.workspace.tokens) and retries once; it never refreshes on a
403. Every answer's `Sforce-Limit-Info` is recorded in metrics.

Every call names its `purpose` (lookup, edit, create, activity, autocreate, token,
describe); a `CallObserver` given at construction hears of each call that reached Salesforce
with that purpose and the answer's api-usage, so the workspace core can count and cap the
org's API allocation (docs/api.md, "Salesforce API usage") without this package knowing it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import httpx

from app.config import Settings
from app.salesforce.errors import (
    RequestLimitExceeded,
    SalesforceError,
    SalesforceUnavailable,
    SessionExpired,
    error_from_response,
)
from app.salesforce.hooks import (
    CallGuard,
    CallObserver,
    CallRecord,
    Credentials,
    TokenSource,
    json_object,
    parse_limit_info,
    record_limits,
    records_of,
)
from app.salesforce.hosts import ensure_allowed
from app.salesforce.metrics import SALESFORCE_CALLS

logger = logging.getLogger("app.salesforce.client")

MAX_QUERY_PAGES = 10
WRITE_METHODS = frozenset({"PATCH", "POST", "PUT", "DELETE"})
# Saves past duplicate rules that only alert (a blocking rule still refuses).
ALLOW_DUPLICATES_HEADER = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}


class SalesforceClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        tokens: TokenSource,
        observer: CallObserver | None = None,
        *,
        guard: CallGuard | None = None,
    ) -> None:
        self._http = http
        self._settings = settings
        self.tokens = tokens
        self.observer = observer
        self._guard = guard
        self.data_path = f"/services/data/{settings.salesforce_api_version}/"

    def _failed(self, organization_id: str | None) -> None:
        if self._guard is not None and organization_id:
            self._guard.failed(organization_id)

    # -- raw calls ---------------------------------------------------------------------------

    async def call_with_token(
        self,
        instance_url: str,
        access_token: str,
        method: str,
        path: str,
        *,
        operation: str = "call",
        organization_id: str | None = None,
        workspace_id: str | None = None,
        purpose: str = "other",
        **kwargs: Any,
    ) -> httpx.Response:
        """One request with the given token. `path` is relative to /services/data/vNN.0/
        unless it starts with `/services/`."""
        base = ensure_allowed(instance_url, self._settings)
        url = base + (path if path.startswith("/services/") else self.data_path + path)
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json",
            # Change events of our own writes carry this name back (changeOrigin).
            "Sforce-Call-Options": f"client={self._settings.salesforce_client_name}",
        }
        headers.update(kwargs.pop("headers", None) or {})
        guard = self._guard if organization_id else None
        if guard is not None and organization_id:
            wait = guard.allow(organization_id)
            if wait is not None:
                # Recently timing out or failing: answer at once instead of waiting again.
                SALESFORCE_CALLS.labels(operation, "circuit_open").inc()
                raise SalesforceUnavailable(
                    "Salesforce is failing for this org; not calling it for a while",
                    retry_after=max(1, round(wait)),
                )
        try:
            response = await self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            SALESFORCE_CALLS.labels(operation, "timeout").inc()
            logger.warning("salesforce.call.timeout", extra={"operation": operation})
            self._failed(organization_id)
            raise SalesforceUnavailable("Salesforce did not answer in time") from exc
        except httpx.HTTPError as exc:
            SALESFORCE_CALLS.labels(operation, "unreachable").inc()
            logger.warning(
                "salesforce.call.unreachable",
                extra={"operation": operation, "error": type(exc).__name__},
            )
            self._failed(organization_id)
            raise SalesforceUnavailable("Salesforce could not be reached") from exc
        except BaseException:
            if guard is not None and organization_id:
                guard.succeeded(organization_id)  # a cancelled probe must not stay in flight
            raise
        if guard is not None and organization_id:
            if response.status_code >= 500:
                guard.failed(organization_id)
            else:
                guard.succeeded(organization_id)  # answered: 4xx is a refusal, not an outage
        record_limits(response, organization_id)
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        error = (
            error_from_response(response, write=method.upper() in WRITE_METHODS)
            if response.status_code >= 400
            else None
        )
        if isinstance(error, RequestLimitExceeded):
            error.api_usage = usage
        if self.observer is not None:
            self.observer.on_call(CallRecord(organization_id, workspace_id, purpose, usage, error))
        if error is not None:
            SALESFORCE_CALLS.labels(operation, error.error_code).inc()
            logger.info(
                "salesforce.call.failed",
                extra={
                    "operation": operation,
                    "status": response.status_code,
                    "error_code": error.error_code,
                    "organization_id": organization_id,
                },
            )
            raise error
        SALESFORCE_CALLS.labels(operation, "ok").inc()
        return response

    async def call(
        self,
        workspace_id: str,
        method: str,
        path: str,
        *,
        credentials: Credentials | None = None,
        operation: str = "call",
        purpose: str = "other",
        **kwargs: Any,
    ) -> httpx.Response:
        """A request with the workspace's stored tokens; refresh once and retry once on 401."""
        creds = credentials or await self.tokens.credentials(workspace_id)
        for retry in (False, True):
            try:
                return await self.call_with_token(
                    creds.instance_url,
                    creds.access_token,
                    method,
                    path,
                    operation=operation,
                    organization_id=creds.organization_id,
                    workspace_id=workspace_id,
                    purpose=purpose,
                    **kwargs,
                )
            except SessionExpired:
                if retry:
                    raise
                creds = await self.tokens.refresh(workspace_id, creds.access_token)
        raise AssertionError("unreachable")

    # -- typed operations ------------------------------------------------------------------

    async def query(
        self,
        workspace_id: str,
        soql: str,
        *,
        credentials: Credentials | None = None,
        purpose: str = "lookup",
    ) -> list[dict[str, Any]]:
        response = await self._get(
            workspace_id, "query", credentials, purpose=purpose, params={"q": soql}
        )
        return await self._collect_pages(workspace_id, json_object(response), credentials, purpose)

    async def _get(
        self, workspace_id: str, operation: str, credentials: Credentials | None, **kwargs: Any
    ) -> httpx.Response:
        """GET `<data path>/<operation>` (the operation names the metric too)."""
        return await self.call(
            workspace_id, "GET", operation, credentials=credentials, operation=operation, **kwargs
        )

    async def query_with_token(
        self, instance_url: str, access_token: str, soql: str
    ) -> list[dict[str, Any]]:
        response = await self.call_with_token(
            instance_url, access_token, "GET", "query", params={"q": soql}, operation="query"
        )
        return records_of(json_object(response))

    async def _collect_pages(
        self,
        workspace_id: str,
        body: dict[str, Any],
        credentials: Credentials | None,
        purpose: str = "lookup",
    ) -> list[dict[str, Any]]:
        records = records_of(body)
        pages = 1
        while not body.get("done", True) and body.get("nextRecordsUrl") and pages < MAX_QUERY_PAGES:
            response = await self.call(
                workspace_id,
                "GET",
                str(body["nextRecordsUrl"]),
                credentials=credentials,
                operation="query_more",
                purpose=purpose,
            )
            body = json_object(response)
            records.extend(records_of(body))
            pages += 1
        return records

    async def search(
        self, workspace_id: str, sosl: str, *, credentials: Credentials | None = None
    ) -> list[dict[str, Any]]:
        """A SOSL search (only lookups search: the call counts towards `lookup`)."""
        response = await self._get(
            workspace_id, "search", credentials, purpose="lookup", params={"q": sosl}
        )
        try:
            body = response.json()
        except ValueError as exc:
            raise SalesforceUnavailable("Salesforce's answer is not JSON") from exc
        if isinstance(body, list):
            return records_of({"records": body})
        if isinstance(body, dict):
            return records_of({"records": body.get("searchRecords", [])})
        raise SalesforceUnavailable("Salesforce's answer has an unexpected shape")

    async def describe_contact(
        self,
        workspace_id: str,
        *,
        if_modified_since: str | None = None,
        credentials: Credentials | None = None,
    ) -> tuple[dict[str, Any] | None, str | None]:
        return await self.describe_sobject(
            workspace_id, "Contact", if_modified_since=if_modified_since, credentials=credentials
        )

    async def describe_sobject(
        self,
        workspace_id: str,
        sobject: str,
        *,
        if_modified_since: str | None = None,
        credentials: Credentials | None = None,
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The object's describe, or None when unchanged since `if_modified_since` (304).
        Also returns the answer's Last-Modified header for the next revalidation."""
        headers = {"If-Modified-Since": if_modified_since} if if_modified_since else {}
        response = await self.call(
            workspace_id,
            "GET",
            f"sobjects/{sobject}/describe",
            headers=headers,
            credentials=credentials,
            operation="describe",
            purpose="describe",
        )
        last_modified = response.headers.get("Last-Modified")
        if response.status_code == 304:
            return None, last_modified or if_modified_since
        return json_object(response), last_modified

    async def get_record(
        self,
        workspace_id: str,
        sobject: str,
        record_id: str,
        fields: list[str],
        *,
        credentials: Credentials | None = None,
        purpose: str = "edit",
    ) -> dict[str, Any]:
        """One record of `sobject` (Contact, Lead, ...) with the given fields."""
        response = await self.call(
            workspace_id,
            "GET",
            f"sobjects/{sobject}/{record_id}",
            params={"fields": ",".join(fields)} if fields else None,
            credentials=credentials,
            operation=f"{sobject.lower()}.get",
            purpose=purpose,
        )
        return json_object(response)

    async def update_record(
        self,
        workspace_id: str,
        sobject: str,
        record_id: str,
        values: dict[str, Any],
        *,
        if_unmodified_since: datetime | None = None,
        credentials: Credentials | None = None,
        purpose: str = "edit",
    ) -> None:
        """PATCH the record; with `if_unmodified_since`, a change made since answers 412."""
        headers = (
            {"If-Unmodified-Since": format_datetime(if_unmodified_since, usegmt=True)}
            if if_unmodified_since
            else {}
        )
        await self.call(
            workspace_id,
            "PATCH",
            f"sobjects/{sobject}/{record_id}",
            json=values,
            headers=headers,
            credentials=credentials,
            operation=f"{sobject.lower()}.update",
            purpose=purpose,
        )

    async def create_record(
        self,
        workspace_id: str,
        sobject: str,
        values: dict[str, Any],
        *,
        allow_duplicates: bool = False,
        **kwargs: Any,
    ) -> str:
        """POST sobjects/<sobject> (one API call): the new record's id. `allow_duplicates`
        saves past duplicate rules that only alert (blocking rules still refuse)."""
        path, operation = f"sobjects/{sobject}", f"{sobject.lower()}.create"
        if allow_duplicates:
            kwargs["headers"] = {**kwargs.get("headers", {}), **ALLOW_DUPLICATES_HEADER}
        response = await self.call(
            workspace_id, "POST", path, json=values, operation=operation, **kwargs
        )
        record_id = json_object(response).get("id")
        if not isinstance(record_id, str):
            raise SalesforceUnavailable("Salesforce answered a create without an id")
        return record_id

    async def limits(self, workspace_id: str) -> dict[str, Any]:
        response = await self.call(
            workspace_id, "GET", "limits", operation="limits", purpose="other"
        )
        return json_object(response)


__all__ = [
    "CallGuard",
    "CallObserver",
    "CallRecord",
    "Credentials",
    "SalesforceClient",
    "SalesforceError",
    "TokenSource",
    "json_object",
    "parse_limit_info",
    "records_of",
]
