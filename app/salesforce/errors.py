"""Typed Salesforce errors, by HTTP status and `errorCode`. What they become in our HTTP
answers is decided by app.workspace.errors."""

from __future__ import annotations

from typing import Any

import httpx


class SalesforceError(Exception):
    status: int = 0
    error_code: str = "UNKNOWN"

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        error_code: str | None = None,
        fields: list[str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message or self.error_code)
        self.message = message
        if status is not None:
            self.status = status
        if error_code is not None:
            self.error_code = error_code
        self.fields = fields or []
        self.errors = errors or []


class SessionExpired(SalesforceError):
    """401 INVALID_SESSION_ID: refresh once, retry once."""


class RequestLimitExceeded(SalesforceError):
    """403 REQUEST_LIMIT_EXCEEDED: the daily allocation ("TotalRequests Limit exceeded")
    unless `concurrent` (too many long requests at once, "ConcurrentPerOrgLongTxn"), which
    clears within seconds. `api_usage` is the answer's `Sforce-Limit-Info` (used, limit)."""

    concurrent: bool = False
    api_usage: tuple[int, int] | None = None
    # Seconds to wait, when whoever raised or observed this could tell.
    retry_after: float | None = None


class ConcurrentLimitExceeded(RequestLimitExceeded):
    """REQUEST_LIMIT_EXCEEDED for concurrent long-running requests: retry in seconds."""

    concurrent = True


class ApiDisabled(SalesforceError):
    """403 API_DISABLED_FOR_ORG (the edition) or API_CURRENTLY_DISABLED (the user's profile
    lacks "API Enabled"): no API access."""


class InsufficientAccess(SalesforceError):
    """403 for anything else: the user may not read or write this."""


class RecordNotFound(SalesforceError):
    """404 NOT_FOUND or ENTITY_IS_DELETED."""


class PreconditionFailed(SalesforceError):
    """412: the record changed since If-Unmodified-Since."""


class WriteRejected(SalesforceError):
    """A record-level answer to a write (any 4xx but the session, limit, API access and
    not-found ones): validation rule, approval lock, trigger failure, duplicate, maintenance,
    an errorCode never seen before... A definite "no" about the record, never an outage."""


class DuplicatesDetected(WriteRejected):
    """400 DUPLICATES_DETECTED: the org's duplicate rules refused a new or changed record."""

    def _results(self) -> list[dict[str, Any]]:
        # The REST API spells the key `duplicateResut`; the SOAP API's `duplicateResult` is
        # read too, should an answer ever carry it.
        found = [e.get("duplicateResut") or e.get("duplicateResult") for e in self.errors]
        return [r for r in found if isinstance(r, dict)]

    @property
    def save_allowed(self) -> bool:
        """True when every matching rule only alerts: the same create with
        `Sforce-Duplicate-Rule-Header: allowSave=true` would save."""
        results = self._results()
        return bool(results) and all(r.get("allowSave") is True for r in results)

    @property
    def duplicate_ids(self) -> list[str]:
        """The ids of the matching records Salesforce names (none when it names none)."""
        ids: list[str] = []
        for result in self._results():
            for match in result.get("matchResults") or []:
                for candidate in (match or {}).get("matchRecords") or []:
                    record = (candidate or {}).get("record") or {}
                    if isinstance(record, dict) and record.get("Id"):
                        ids.append(str(record["Id"]))
        return list(dict.fromkeys(ids))


class QueryTimeout(SalesforceError):
    """400 QUERY_TIMEOUT: the query ran too long (in a large org, a filter no index serves,
    such as an OR across fields). Salesforce's advice: separate selective queries."""


class MalformedRequest(SalesforceError):
    """400 MALFORMED_QUERY / INVALID_FIELD / INVALID_TYPE: a bug in our request."""


class SalesforceUnavailable(SalesforceError):
    """5xx, timeouts, connection failures, unreadable answers. `retry_after`: seconds until
    Salesforce is tried again for this org (its circuit breaker is open)."""

    def __init__(self, message: str = "", *, retry_after: int | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class HostNotAllowed(SalesforceError):
    """A URL outside Salesforce's domains (and the configured extra hosts)."""


class UnusableGrant(SalesforceUnavailable):
    """A token answer that is refused (an address outside Salesforce's domains, a signature
    that does not match, a missing field) although it carries a grant: `token` must be
    revoked so the refused grant does not live on at Salesforce."""

    def __init__(self, message: str, *, token: str, cause: SalesforceError | None = None) -> None:
        super().__init__(message, error_code=cause.error_code if cause else "UNUSABLE_GRANT")
        self.token = token
        self.cause = cause

    def __repr__(self) -> str:  # never print the token
        return f"UnusableGrant({self.message!r})"


class OAuthError(SalesforceError):
    """A JSON error from the token, revoke or identity endpoints."""

    def __init__(self, error: str, description: str = "", *, status: int = 400) -> None:
        super().__init__(description or error, status=status, error_code=error)
        self.error = error
        self.description = description


class InvalidGrant(OAuthError):
    """The grant is dead until someone reconnects: `invalid_grant` (revoked, rotated out,
    expired by the org's refresh-token policy), `inactive_user`, `inactive_org`."""


class LoginRestricted(OAuthError):
    """`invalid_grant` "ip restricted or invalid login hours": the user's profile refuses
    logins from here or at this hour. A configuration problem of the org, not a dead grant."""


class ClientRejected(OAuthError):
    """`invalid_client_id` / `invalid_client`: Salesforce does not accept our app's client id
    or secret (not installed in the org, or misconfigured). Not a dead grant."""


class TokenRateLimited(RequestLimitExceeded):
    """`rate_limit_exceeded` from the token endpoint: too many token requests; back off."""


class NotConnected(Exception):
    """The workspace has no Salesforce connection."""


class ReauthorizationRequired(Exception):
    """The workspace's grant is dead until an owner or manager reconnects; `reason` is a
    stable word (`grant_expired_or_revoked`, `user_inactive`, `org_inactive`, ...) and
    `detail` a sentence for people."""

    def __init__(self, reason: str | None = None, detail: str | None = None) -> None:
        super().__init__(reason or "reauthorization_required")
        self.reason = reason
        self.detail = detail


def token_error(error: str, description: str, status: int) -> SalesforceError:
    """The typed error of a token endpoint's `{"error", "error_description"}` answer."""
    if error == "invalid_grant":
        lowered = description.lower()
        if "ip restricted" in lowered or "login hours" in lowered:
            return LoginRestricted(error, description, status=status)
        return InvalidGrant(error, description, status=status)
    if error in {"inactive_user", "inactive_org"}:
        return InvalidGrant(error, description, status=status)
    if error in {"invalid_client_id", "invalid_client"}:
        return ClientRejected(error, description, status=status)
    if error == "rate_limit_exceeded":
        return TokenRateLimited(description or error, status=status, error_code=error)
    return OAuthError(error, description, status=status)


WRITE_ERROR_CODES = frozenset(
    {
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "STRING_TOO_LONG",
        "INVALID_EMAIL_ADDRESS",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "REQUIRED_FIELD_MISSING",
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        "JSON_PARSER_ERROR",
        "FIELD_INTEGRITY_EXCEPTION",
        "DUPLICATES_DETECTED",
        "NUMBER_OUTSIDE_VALID_RANGE",
    }
)


# No API access, in both of Salesforce's forms: the org's edition (API_DISABLED_FOR_ORG) and
# the user's profile without "API Enabled" (API_CURRENTLY_DISABLED).
API_DISABLED_CODES = frozenset({"API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED"})
INSUFFICIENT_ACCESS_CODES = frozenset(
    {
        "INSUFFICIENT_ACCESS",
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
    }
)
# Answers to a write that say "not now" rather than "not this record": worth a retry.
TRANSIENT_WRITE_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})


def error_from_response(response: httpx.Response, *, write: bool = False) -> SalesforceError:
    """Turn a non-2xx REST answer (a JSON array of errors) into a typed error. On a `write`
    (PATCH, POST, PUT, DELETE of a record) every other 4xx is a WriteRejected."""
    status = response.status_code
    errors: list[dict[str, Any]] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, list):
        errors = [e for e in body if isinstance(e, dict)]
    elif isinstance(body, dict):
        errors = [body]
    first = errors[0] if errors else {}
    code = str(first.get("errorCode") or first.get("error") or f"HTTP_{status}")
    message = str(first.get("message") or first.get("error_description") or response.reason_phrase)
    fields = [str(f) for f in first.get("fields") or []]
    kind: type[SalesforceError]
    if status == 401:
        kind = SessionExpired
    elif code == "REQUEST_LIMIT_EXCEEDED":
        kind = ConcurrentLimitExceeded if "concurrent" in message.lower() else RequestLimitExceeded
    elif code in API_DISABLED_CODES:
        kind = ApiDisabled
    elif code in INSUFFICIENT_ACCESS_CODES or (status == 403 and not write):
        kind = InsufficientAccess
    elif status == 404 or code in {"NOT_FOUND", "ENTITY_IS_DELETED"}:
        kind = RecordNotFound
    elif status == 412:
        kind = PreconditionFailed
    elif status >= 500 or code in TRANSIENT_WRITE_CODES:
        kind = SalesforceUnavailable
    elif code == "QUERY_TIMEOUT":
        kind = QueryTimeout
    elif code == "DUPLICATES_DETECTED":
        kind = DuplicatesDetected
    elif code in WRITE_ERROR_CODES or (write and 400 <= status < 500):
        kind = WriteRejected
    elif status == 400:
        kind = MalformedRequest
    else:
        kind = SalesforceUnavailable
    return kind(message, status=status, error_code=code, fields=fields, errors=errors)
