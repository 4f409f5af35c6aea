"""The AppError family and the one problem+json (RFC 9457) renderer."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


# FastAPI answers a body it cannot decode (not UTF-8) with HTTPException(400); our own code
# raises AppErrors, so a bare 400 is always a request body that could not be read.
BODY_UNREADABLE = "body: not valid JSON (UTF-8)"


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        return problem_response(
            ValidationFailed(BODY_UNREADABLE, errors=[{"field": "body", "message": "not JSON"}])
        )
    codes = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request.app, request.scope))
    error = AppError(str(exc.detail) if exc.detail else None, headers=headers)
    error.status = exc.status_code
    error.code = codes.get(exc.status_code, "http_error")
    error.title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    return problem_response(error)


def _allowed_methods(app: Any, scope: Scope) -> list[str]:
    """Every method the path is served with: one route per method shares a path, and
    Starlette's own Allow names only the first route's."""
    methods = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in app.router.routes):
            methods.append(method)
    return methods


DATABASE_DOWN: tuple[type[BaseException], ...] = (
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


class UnhandledErrors:
    """What no handler took: 503 `service_unavailable` when the database is unreachable, else
    500 `internal_error`, answered like any other error. (Starlette's ServerErrorMiddleware
    answers too, but then re-raises, and uvicorn closes the client's keep-alive connection.)
    Logged with the error's type and route only: SQL parameters are hidden by the engines
    (app.db), and no request data is logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if started:
                raise
            fields = {"route": route_template(scope), "error": type(exc).__name__}
            if unavailable_database(exc):
                logger.warning("http.database_unavailable", extra=fields)
                error: AppError = ServiceUnavailable()
            else:
                logger.exception("http.unhandled_error", extra=fields)
                error = AppError("An unexpected error occurred. It has been logged.")
            await problem_response(error)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _request_validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_middleware(UnhandledErrors)
