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


def _error(status: int, code: str, title: str, detail: str | None = None) -> type[AppError]:
    name = "".join(part.title() for part in code.split("_")) + "Error"
    return type(
        name, (AppError,), {"status": status, "code": code, "title": title, "detail": detail}
    )


Unauthenticated = _error(401, "unauthenticated", "Authentication required")
Forbidden = _error(403, "forbidden", "Forbidden")
ValidationFailed = _error(422, "validation_error", "The request is invalid")
NotFound = _error(404, "not_found", "Not found")
SalesforceNotConnected = _error(
    409,
    "salesforce_not_connected",
    "Salesforce is not connected",
    "Connect a Salesforce account in Workspace Settings > Integrations.",
)
SalesforceReauthorizationRequired = _error(
    409,
    "salesforce_reauthorization_required",
    "Salesforce needs to be reconnected",
    "The Salesforce grant was revoked or expired. An owner or manager must reconnect "
    "Salesforce in Workspace Settings > Integrations.",
)
SalesforceAlreadyConnected = _error(
    409,
    "salesforce_already_connected",
    "Another Salesforce organization is connected",
    "This workspace is connected to a different Salesforce organization. Disconnect it first.",
)
SalesforceApiDisabled = _error(
    403,
    "salesforce_api_disabled",
    "Salesforce API access is not enabled",
    "Your Salesforce account must have API access; ask your Salesforce administrator to "
    "enable API permissions.",
)
SalesforceInsufficientAccess = _error(
    403, "salesforce_insufficient_access", "Salesforce refused access for this user"
)
SalesforceContactNotFound = _error(
    404,
    "salesforce_contact_not_found",
    "Salesforce contact not found",
    "The Contact does not exist in Salesforce or was deleted.",
)
SalesforceValidationFailed = _error(
    422, "salesforce_validation_failed", "Salesforce rejected the change"
)
SalesforceRateLimited = _error(
    503,
    "salesforce_rate_limited",
    "Salesforce API limit reached",
    "The Salesforce organization has used up its API requests. Try again later.",
)
SalesforceUnavailable = _error(
    502,
    "salesforce_unavailable",
    "Salesforce is unavailable",
    "Salesforce did not answer in time or answered with an error. Try again shortly.",
)
EditingDisabled = _error(
    403, "editing_disabled", "Editing is disabled", "Editing Salesforce fields is turned off."
)
FieldNotEditable = _error(422, "field_not_editable", "Field cannot be edited")
EditConflict = _error(
    409,
    "edit_conflict",
    "The field changed in Salesforce",
    "The field no longer holds the value respond.io wrote. Use force=true to revert anyway.",
)
NothingToRevert = _error(404, "nothing_to_revert", "Nothing to revert")
OAuthStateInvalid = _error(
    400,
    "oauth_state_invalid",
    "The authorization link is invalid",
    "The authorization request is missing, expired or was already used. Start connecting again.",
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
