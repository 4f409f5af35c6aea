"""The handlers that render every error as application/problem+json (app.errors holds the
AppError family): validation errors, Starlette's HTTP errors (405 with `Allow`), and an
outermost middleware for anything unhandled (503 when the database is unreachable)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import (
    AppError,
    ServiceUnavailable,
    ValidationFailed,
    problem_response,
    route_template,
    unavailable_database,
)

logger = logging.getLogger("app.errors")


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
        except ClientDisconnect:
            raise  # no one to answer: app.observability counts it, quietly
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
