"""Salesforce failures become our HTTP errors here, and only here."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from app import errors as app_errors
from app.salesforce.errors import (
    ApiDisabled,
    ClientRejected,
    InsufficientAccess,
    InvalidGrant,
    LoginRestricted,
    NotConnected,
    ReauthorizationRequired,
    RecordNotFound,
    RequestLimitExceeded,
    SalesforceError,
    SalesforceUnavailable,
    WriteRejected,
)
from app.workspace.budget import retry_after_seconds
from app.workspace.context import ContextChanged, WorkspaceContext, WorkspaceContexts

T = TypeVar("T")


def to_app_error(exc: Exception) -> app_errors.AppError:
    """The AppError (docs/api.md, "Errors") of a Salesforce-side failure."""
    if isinstance(exc, NotConnected):
        return app_errors.SalesforceNotConnected()
    if isinstance(exc, ReauthorizationRequired):
        return reauthorization_required(exc.reason, exc.detail)
    if isinstance(exc, InvalidGrant):
        return app_errors.SalesforceReauthorizationRequired()
    if isinstance(exc, LoginRestricted):
        return app_errors.SalesforceLoginRestricted()
    if isinstance(exc, ClientRejected):
        return app_errors.SalesforceClientRejected()
    if isinstance(exc, ApiDisabled):
        return app_errors.SalesforceApiDisabled()
    if isinstance(exc, RequestLimitExceeded):
        # Set by the API budget (app.workspace.budget): seconds for a concurrent-request
        # refusal, the time the org's allocation takes to recover for a daily one.
        retry_after = (
            exc.retry_after
            if exc.retry_after is not None
            else retry_after_seconds(*(exc.api_usage or (1, 1)), 0.95)
        )
        return app_errors.SalesforceRateLimited(
            headers={"Retry-After": str(max(1, math.ceil(retry_after)))}
        )
    if isinstance(exc, InsufficientAccess):
        error = app_errors.SalesforceInsufficientAccess(exc.message or None)
        if exc.errors:
            error.extra["errors"] = salesforce_errors(exc)
        return error
    if isinstance(exc, RecordNotFound):
        return app_errors.SalesforceContactNotFound()
    if isinstance(exc, SalesforceUnavailable) and exc.retry_after:
        return app_errors.SalesforceUnavailable(headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, WriteRejected):
        return app_errors.SalesforceValidationFailed(exc.message, errors=salesforce_errors(exc))
    return app_errors.SalesforceUnavailable()


def reauthorization_required(
    reason: str | None, detail: str | None
) -> app_errors.SalesforceReauthorizationRequired:
    """The 409 of a dead grant, saying why when the connection knows (docs/api.md)."""
    error = app_errors.SalesforceReauthorizationRequired(detail or None)
    if reason:
        error.extra["reason"] = reason
    return error


def salesforce_errors(exc: SalesforceError) -> list[dict[str, Any]]:
    """Salesforce's own `[{errorCode, message, fields}]` of a rejection (docs/api.md), each
    also a `ProblemFieldError`: `field` names the fields (`fields.Title`; "" for the whole
    record) and `message` is always text."""
    found = [(e.get("errorCode"), e.get("message"), e.get("fields")) for e in exc.errors]
    return [
        {
            "field": ", ".join(f"fields.{name}" for name in fields or []),
            "message": message or code or "Salesforce refused the write",
            "errorCode": code,
            "fields": fields or [],
        }
        for code, message, fields in found or [(exc.error_code, exc.message, exc.fields)]
    ]


async def with_salesforce_errors(
    contexts: WorkspaceContexts,
    workspace_id: str,
    call: Callable[[WorkspaceContext], Awaitable[T]],
) -> T:
    """Run `call` with the workspace's context; Salesforce failures become our errors.
    A context that went stale under us (reconnect elsewhere) is reloaded and tried once more."""
    for attempt in (1, 2):
        context = await contexts.get(workspace_id)
        try:
            return await call(context)
        except ContextChanged:
            contexts.invalidate(workspace_id)
            if attempt == 2:
                raise app_errors.SalesforceUnavailable() from None
        except (NotConnected, ReauthorizationRequired) as exc:
            contexts.invalidate(workspace_id)
            raise to_app_error(exc) from exc
        except SalesforceError as exc:
            raise to_app_error(exc) from exc
    raise AssertionError("unreachable")
