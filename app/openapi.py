"""The served OpenAPI document: the problem+json errors routes answer with, named request
bodies, and the rules that make generated clients good (docs/api.md, "OpenAPI and
generated clients")."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from app import errors


class ProblemFieldError(BaseModel):
    """One problem of a request (or of Salesforce's answer), naming the field."""

    model_config = ConfigDict(extra="allow")

    field: str = Field(description="Where: `fields.Title`, `query.email`, `body`, ...")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document with a stable `code` (docs/api.md, "Errors")."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str | SkipJsonSchema[None] = None
    errors: list[ProblemFieldError] | SkipJsonSchema[None] = None


def problem_responses(*kinds: type[errors.AppError], html: bool = False) -> dict[int | str, Any]:
    """OpenAPI `responses` for the given errors, grouped by status (`html`: pages too)."""
    by_status: dict[int, list[type[errors.AppError]]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, []).append(kind)
    responses: dict[int | str, Any] = {}
    for status, group in sorted(by_status.items()):
        content: dict[str, Any] = {errors.PROBLEM_JSON: {"schema": PROBLEM_REF}}
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


# Request bodies that routes read themselves (`read_json`), declared with `json_body`: their
# models become components of the document like FastAPI's own.
BODY_MODELS: dict[str, type[BaseModel]] = {}


def operation_id(route: APIRoute) -> str:
    """The route's name (its function's, or `name=`): short, and unique (tests/openapi)."""
    return route.name


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` of a route that reads a JSON body of `model` itself."""
    BODY_MODELS[model.__name__] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def install_problem_documents(app: FastAPI) -> None:
    """The served OpenAPI documents every error as it is sent: `application/problem+json`
    with the Problem schema, FastAPI's own 422 included; every `/v1` operation may answer 503
    `service_unavailable` (docs/api.md, "Errors"). `client_rules` adds what generated
    clients need."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            problem_documents(schema)
            client_rules(schema)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def add_components(components: dict[str, Any], *models: type[BaseModel]) -> None:
    """Each model and the models it uses, as components."""
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, nested in schema.pop("$defs", {}).items():
            components.setdefault(name, nested)
        components[model.__name__] = schema


def problem_documents(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    add_components(components, Problem, *BODY_MODELS.values())
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
                if not path.startswith("/v1/") and "application/json" in content:
                    continue  # an operator's endpoint answering its own JSON (`/readyz`)
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


# -- what generated clients need (tests/openapi/test_document_rules.py) -----------------

RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer"},
}
REPLAYED = {
    "description": "`true`: this answer replays the first request made with this "
    "`Idempotency-Key`; nothing was created.",
    "schema": {"type": "string", "enum": ["true"]},
}
# Who calls an operation (`x-caller`, docs/api.md, "OpenAPI and generated clients"): by
# path unless a route says.
CALLERS_BY_PREFIX = (
    ("/v1/workspaces/", "service"),
    ("/v1/webhooks/salesforce/", "salesforce"),
    ("/v1/webhooks/respondio/", "respondio"),
)
# The tag that says the same, for documentation tools that ignore extensions.
CALLER_TAGS = {"browser": "browser", "salesforce": "salesforce", "respondio": "respondio"}


def client_rules(schema: dict[str, Any]) -> None:
    """Callers marked, optional bodies as plain references, the replay 200 declared beside
    every 201, `Retry-After` on every 429, 502 and 503 (and `idempotency_key_in_progress`)."""
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            _mark_caller(path, operation)
            _optional_body(operation)
            responses = operation.get("responses", {})
            _replay(operation, responses)
            for status, response in responses.items():
                retried = status in ("429", "502", "503")
                if retried or "idempotency_key_in_progress" in response.get("description", ""):
                    response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER


def _mark_caller(path: str, operation: dict[str, Any]) -> None:
    caller = operation.get("x-caller") or next(
        (who for prefix, who in CALLERS_BY_PREFIX if path.startswith(prefix)), None
    )
    if caller is None:
        return  # unmarked: tests/openapi says so
    operation["x-caller"] = caller
    tag = CALLER_TAGS.get(caller)
    tags = operation.setdefault("tags", [])
    if tag and not any(tag in existing for existing in tags):
        tags.append(tag)


def _optional_body(operation: dict[str, Any]) -> None:
    """An optional body (`Model | None`) as the model's reference, not `anyOf` with null:
    clients then take the model or nothing."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return
    alternatives = content["schema"].get("anyOf", [])
    refs = [option for option in alternatives if "$ref" in option]
    if len(refs) == 1 and len(alternatives) == 2 and {"type": "null"} in alternatives:
        content["schema"] = refs[0]


def _replay(operation: dict[str, Any], responses: dict[str, Any]) -> None:
    """Every create answers 200 with the first answer when it is repeated."""
    if "201" not in responses:
        return
    replay = responses.setdefault(
        "200",
        {
            "description": "Repeated: the first answer again; nothing was created.",
            "content": responses["201"].get("content", {}),
        },
    )
    idempotent = any(
        parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key"
        for parameter in operation.get("parameters", [])
    )
    if idempotent:
        replay.setdefault("headers", {})["Idempotent-Replayed"] = REPLAYED
