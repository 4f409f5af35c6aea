"""OpenAPI declarations of the problem+json errors that routes can answer with."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
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


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SERVICE_UNAVAILABLE_NOTE = "`service_unavailable`: the service's database is unreachable"


def install_problem_documents(app: FastAPI) -> None:
    """The served OpenAPI documents every error as it is sent: `application/problem+json`
    with the Problem schema, FastAPI's own 422 included; every `/v1` operation may answer 503
    `service_unavailable` (docs/api.md, "Errors")."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            problem_documents(build())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def problem_documents(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/workspaces/") and "requestBody" in operation:
                # Every body is capped and must arrive in time (app.body_guard).
                for kind in (errors.RequestTimeout, errors.RequestTooLarge):
                    responses.setdefault(
                        str(kind.status), {"description": f"`{kind.code}`: {kind.title}"}
                    )
            if path.startswith("/v1/") and "503" not in responses:
                responses["503"] = {"description": SERVICE_UNAVAILABLE_NOTE}
            elif path.startswith("/v1/"):
                responses["503"]["description"] += "; " + SERVICE_UNAVAILABLE_NOTE
            for status, response in responses.items():
                if status != "default" and int(status) < 400:
                    continue
                content = response.get("content", {})
                documented: dict[str, Any] = {errors.PROBLEM_JSON: {"schema": PROBLEM_REF}}
                if (
                    content
                    and "application/json" not in content
                    and errors.PROBLEM_JSON not in content
                ):
                    continue  # another format on purpose (the webhook's SOAP faults)
                documented.update(
                    (kind, value)
                    for kind, value in content.items()
                    if kind not in ("application/json", errors.PROBLEM_JSON)
                )
                response["content"] = documented
