"""The AppError family and the one problem+json (RFC 9457) renderer."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from app.db import DatabaseUnavailable

logger = logging.getLogger("app.errors")

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"
    detail: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.detail or self.title)
        if detail is not None:
            self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return body


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"
    title = "The request is invalid"


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class RequestTooLarge(AppError):
    status = 413
    code = "request_too_large"
    title = "The request body is too large"


class RequestTimeout(AppError):
    status = 408
    code = "request_timeout"
    title = "The request body did not arrive in time"


class SalesforceNotConnected(AppError):
    status = 409
    code = "salesforce_not_connected"
    title = "Salesforce is not connected"
    detail = "Connect a Salesforce account in Workspace Settings > Integrations."


class SalesforceReauthorizationRequired(AppError):
    status = 409
    code = "salesforce_reauthorization_required"
    title = "Salesforce needs to be reconnected"
    detail = (
        "The Salesforce grant was revoked or expired. An owner or manager must reconnect "
        "Salesforce in Workspace Settings > Integrations."
    )


class SalesforceAlreadyConnected(AppError):
    status = 409
    code = "salesforce_already_connected"
    title = "Another Salesforce organization is connected"
    detail = (
        "This workspace is connected to a different Salesforce organization. Disconnect it first."
    )


class SalesforceApiDisabled(AppError):
    status = 403
    code = "salesforce_api_disabled"
    title = "Salesforce API access is not enabled"
    detail = (
        "Your Salesforce account must have API access; ask your Salesforce administrator to "
        "enable API permissions."
    )


class SalesforceInsufficientAccess(AppError):
    status = 403
    code = "salesforce_insufficient_access"
    title = "Salesforce refused access for this user"


class SalesforceContactNotFound(AppError):
    status = 404
    code = "salesforce_contact_not_found"
    title = "Salesforce contact not found"
    detail = "The Contact does not exist in Salesforce or was deleted."


class SalesforceLeadNotFound(AppError):
    status = 404
    code = "salesforce_lead_not_found"
    title = "Salesforce lead not found"
    detail = "The Lead does not exist in Salesforce, was deleted or was converted."


def record_not_found(sobject: str) -> AppError:
    """The not-found error of the object: `salesforce_lead_not_found` for a Lead,
    `salesforce_contact_not_found` for a Contact."""
    return SalesforceLeadNotFound() if sobject == "Lead" else SalesforceContactNotFound()


class SalesforceValidationFailed(AppError):
    status = 422
    code = "salesforce_validation_failed"
    title = "Salesforce rejected the change"


class SalesforceRateLimited(AppError):
    status = 503
    code = "salesforce_rate_limited"
    title = "Salesforce API limit reached"
    detail = "The Salesforce organization has used up its API requests. Try again later."


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"
    detail = (
        "This workspace is asking Salesforce for uncached answers faster than its share of "
        "the org's API allocation allows. Try again after Retry-After seconds."
    )


class SalesforceUnavailable(AppError):
    status = 502
    code = "salesforce_unavailable"
    title = "Salesforce is unavailable"
    detail = "Salesforce did not answer in time or answered with an error. Try again shortly."

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(SALESFORCE_RETRY_AFTER_SECONDS)})
        super().__init__(detail, **kwargs)


class SalesforceLoginRestricted(AppError):
    """Salesforce refused the login: the user's profile restricts login IP ranges or hours."""

    status = 403
    code = "salesforce_login_restricted"
    title = "Salesforce refused the login from this service"
    detail = (
        'Salesforce answered "ip restricted or invalid login hours": the connected user\'s '
        "profile does not allow logins from this service's addresses or at this time. Ask your "
        "Salesforce administrator to relax the app's IP restrictions (or the profile's login IP "
        "ranges and login hours). The connection itself is kept."
    )


class SalesforceClientRejected(AppError):
    """Salesforce does not accept this service's app (client id or secret)."""

    status = 502
    code = "salesforce_client_rejected"
    title = "Salesforce does not accept this service's app"
    detail = (
        "Salesforce answered that this service's External Client App or Connected App is "
        "unknown or its secret is wrong (invalid_client_id / invalid_client). The app may not "
        "be installed in this Salesforce organization, or the service's SALESFORCE_CLIENT_ID / "
        "SALESFORCE_CLIENT_SECRET are wrong. The connection itself is kept."
    )


class SalesforceCredentialsRejected(AppError):
    """Salesforce refused the client credentials of a connect (contract 10.1)."""

    status = 422
    code = "salesforce_credentials_rejected"
    title = "Salesforce refused the client credentials"
    detail = (
        "Salesforce refused the consumer key or secret, or the External Client App's client "
        "credentials flow is not enabled. Nothing was connected."
    )


class SalesforceAccessDenied(AppError):
    """The user chose Deny on Salesforce's consent page."""

    status = 400
    code = "salesforce_access_denied"
    title = "Salesforce access was not allowed"
    detail = (
        "The Salesforce user did not allow respond.io to access the account. Nothing was "
        "connected. Start connecting again and choose Allow."
    )


class SalesforceAuthorizationFailed(AppError):
    status = 400
    code = "salesforce_authorization_failed"
    title = "Salesforce did not authorize the connection"


class EditingDisabled(AppError):
    status = 403
    code = "editing_disabled"
    title = "Editing is disabled"
    detail = "Editing Salesforce fields is turned off."


class FieldNotEditable(AppError):
    status = 422
    code = "field_not_editable"
    title = "Field cannot be edited"


class EditConflict(AppError):
    status = 409
    code = "edit_conflict"
    title = "The field changed in Salesforce"
    detail = (
        "The field no longer holds the value respond.io wrote. Use force=true to revert anyway."
    )


class NothingToRevert(AppError):
    status = 404
    code = "nothing_to_revert"
    title = "Nothing to revert"


class ServiceUnavailable(AppError):
    """The service's own database cannot be reached (docs/api.md, "Errors")."""

    status = 503
    code = "service_unavailable"
    title = "The service is unavailable"
    detail = "The service cannot reach its database right now. Try again shortly."

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(SERVICE_RETRY_AFTER_SECONDS)})
        super().__init__(detail, **kwargs)


SERVICE_RETRY_AFTER_SECONDS = 5
# When Salesforce failed or timed out (502 `salesforce_unavailable`) and nothing more precise
# is known (an open circuit breaker says how long it stays open).
SALESFORCE_RETRY_AFTER_SECONDS = 5


class RecordCreationDisabled(AppError):
    status = 403
    code = "record_creation_disabled"
    title = "Record creation is disabled"
    detail = "Creating Salesforce records from respond.io is turned off in the settings."


class ActivityLoggingDisabled(AppError):
    status = 403
    code = "activity_logging_disabled"
    title = "Activity logging is disabled"
    detail = "Logging conversations to Salesforce is turned off in the settings."


class SalesforceDuplicate(AppError):
    status = 409
    code = "salesforce_duplicate"
    title = "Salesforce found a duplicate"


class IdempotencyKeyReused(AppError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused with another request"
    detail = (
        "This Idempotency-Key was used in the last 24 hours with a different request. Send a "
        "new key for a new request."
    )


class IdempotencyKeyInProgress(AppError):
    status = 409
    code = "idempotency_key_in_progress"
    title = "The first request with this key is still in progress"
    detail = "A request with this Idempotency-Key has not finished yet. Retry shortly."


class OAuthStateInvalid(AppError):
    status = 400
    code = "oauth_state_invalid"
    title = "The authorization link is invalid"
    detail = (
        "The authorization request is missing, expired or was already used. Start connecting again."
    )


class WebhookSignatureInvalid(AppError):
    status = 401
    code = "webhook_signature_invalid"
    title = "The webhook signature is invalid"
    detail = (
        "X-Webhook-Signature is missing or is not the base64 HMAC-SHA256 of the body with this "
        "webhook's signing key. Nothing was stored."
    )


class WebhookPayloadInvalid(AppError):
    status = 400
    code = "webhook_payload_invalid"
    title = "The webhook body is not a respond.io event"


def route_template(scope: Any) -> str:
    """The matched route's template: raw paths may hold secrets (webhook keys)."""
    route = scope.get("route")
    return getattr(route, "path", "unmatched")


def problem_response(error: AppError) -> JSONResponse:
    return JSONResponse(
        error.to_problem(), status_code=error.status, headers=error.headers, media_type=PROBLEM_JSON
    )


DATABASE_DOWN: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,  # no connection could be made, whatever the reason (app.db)
    OSError,  # refused, reset, unreachable, connect timeout (TimeoutError is an OSError)
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the pool had no connection to give in time
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def unavailable_database(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) says the database cannot be reached."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, DATABASE_DOWN):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
