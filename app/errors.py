"""The AppError family and the one problem+json (RFC 9457) renderer."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


class RequestTooLarge(AppError):
    status = 413
    code = "request_too_large"
    title = "The request body is too large"


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


class OAuthStateInvalid(AppError):
    status = 400
    code = "oauth_state_invalid"
    title = "The authorization link is invalid"
    detail = (
        "The authorization request is missing, expired or was already used. Start connecting again."
    )


def route_template(scope: Any) -> str:
    """The matched route's template: raw paths may hold secrets (webhook keys)."""
    route = scope.get("route")
    return getattr(route, "path", "unmatched")


def problem_response(error: AppError) -> JSONResponse:
    return JSONResponse(
        error.to_problem(), status_code=error.status, headers=error.headers, media_type=PROBLEM_JSON
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        location = [str(part) for part in err.get("loc", ()) if part != "body"]
        errors.append({"field": ".".join(location), "message": err.get("msg", "invalid")})
    return errors


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(exc)


async def _request_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
    return problem_response(ValidationFailed(detail, errors=errors))


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    error = AppError(str(exc.detail) if exc.detail else None, headers=dict(exc.headers or {}))
    error.status = exc.status_code
    error.code = codes.get(exc.status_code, "http_error")
    error.title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    return problem_response(error)


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception(
        "http.unhandled_error",
        extra={"route": route_template(request.scope), "error": type(exc).__name__},
    )
    return problem_response(AppError("An unexpected error occurred. It has been logged."))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _request_validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unhandled_handler)
