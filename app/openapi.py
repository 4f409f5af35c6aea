"""OpenAPI declarations of the problem+json errors that routes can answer with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from app import errors


class Problem(BaseModel):
    """An RFC 9457 problem document with a stable `code` (docs/api.md, "Errors")."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_responses(*kinds: type[errors.AppError], html: bool = False) -> dict[int | str, Any]:
    """OpenAPI `responses` for the given errors, grouped by status (`html`: pages too)."""
    by_status: dict[int, list[type[errors.AppError]]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, []).append(kind)
    responses: dict[int | str, Any] = {}
    for status, group in sorted(by_status.items()):
        content: dict[str, Any] = {errors.PROBLEM_JSON: {"schema": Problem.model_json_schema()}}
        if html:
            content["text/html"] = {"schema": {"type": "string"}}
        responses[status] = {
            "description": "; ".join(f"`{k.code}`: {k.title}" for k in group),
            "content": content,
        }
    return responses


AUTH_ERRORS: tuple[type[errors.AppError], ...] = (errors.Unauthenticated, errors.Forbidden)
SALESFORCE_READ_ERRORS: tuple[type[errors.AppError], ...] = (
    errors.SalesforceNotConnected,
    errors.SalesforceReauthorizationRequired,
    errors.SalesforceApiDisabled,
    errors.SalesforceInsufficientAccess,
    errors.SalesforceRateLimited,
    errors.SalesforceUnavailable,
    errors.SalesforceLoginRestricted,
    errors.SalesforceClientRejected,
)
