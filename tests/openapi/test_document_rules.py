"""Rules every operation of the served OpenAPI follows, so that generated clients are good
(docs/api.md, "OpenAPI and generated clients"). They run over the whole document: routes
added later are held to them too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

PROBLEM = "application/problem+json"
COMPONENT_REF = re.compile(r"^#/components/schemas/([A-Za-z][A-Za-z0-9]*)$")
OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
CALLERS = {"service", "browser", "salesforce", "respondio", "operator"}
# Problem documents and their `errors` items may carry more keys (RFC 9457 extensions):
# the only objects whose extra keys are open.
OPEN_OBJECTS = {"Problem", "ProblemFieldError"}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def schemas_in(schema: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every schema nested in `schema` (itself included), with where it is."""
    yield where, schema
    if not isinstance(schema, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        yield from schemas_in(sub, f"{where}.{name}")
    for key in ("items", "additionalProperties", "propertyNames", "not"):
        if key in schema and not isinstance(schema[key], bool):
            yield from schemas_in(schema[key], f"{where}.{key}")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, sub in enumerate(schema.get(key, [])):
            yield from schemas_in(sub, f"{where}.{key}[{index}]")


def every_schema(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(component or operation, where, schema) for every schema of the document."""
    for name, schema in document["components"]["schemas"].items():
        for where, sub in schemas_in(schema, name):
            yield name, where, sub
    for method, path, operation in operations(document):
        owner = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            for where, sub in schemas_in(parameter["schema"], f"{owner} {parameter['name']}"):
                yield owner, where, sub
        for kind, content in operation.get("requestBody", {}).get("content", {}).items():
            for where, sub in schemas_in(content["schema"], f"{owner} body {kind}"):
                yield owner, where, sub
        for status, response in operation["responses"].items():
            for kind, content in response.get("content", {}).items():
                for where, sub in schemas_in(content["schema"], f"{owner} {status} {kind}"):
                    yield owner, where, sub
            for header, declared in response.get("headers", {}).items():
                for where, sub in schemas_in(declared["schema"], f"{owner} {status} {header}"):
                    yield owner, where, sub


def test_operation_ids_are_short_unique_snake_case(document: dict[str, Any]) -> None:
    ids = [operation.get("operationId", "") for _, _, operation in operations(document)]
    assert len(ids) >= 20
    for method, path, operation in operations(document):
        operation_id = operation.get("operationId", "")
        assert OPERATION_ID.match(operation_id), (method, path, operation_id)
        assert len(operation_id) <= 40, (method, path, operation_id)
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    assert "lookup_contact" in ids and "create_contact" in ids


def test_every_json_request_body_is_a_named_component(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    bodies = 0
    for method, path, operation in operations(document):
        for kind, content in operation.get("requestBody", {}).get("content", {}).items():
            if "json" not in kind:
                continue
            bodies += 1
            match = COMPONENT_REF.match(content["schema"].get("$ref", ""))
            assert match, (method, path, content["schema"])
            name = match.group(1)
            assert name in components, (method, path, name)
            # FastAPI's made-up names (`Body_connect_v1_...`) are neither short nor meaningful.
            assert not name.startswith("Body_") and len(name) <= 40, (method, path, name)
    assert bodies >= 6


def test_no_untyped_schema_anywhere(document: dict[str, Any]) -> None:
    untyped = []
    for owner, where, schema in every_schema(document):
        if schema == {} or schema is True:
            untyped.append(where)
        elif isinstance(schema, dict):
            if schema.get("additionalProperties") is True and owner not in OPEN_OBJECTS:
                untyped.append(f"{where}.additionalProperties")
            if "patternProperties" in schema:
                # Generators ignore it: a map's keys are `propertyNames`, its values
                # `additionalProperties`.
                untyped.append(f"{where}.patternProperties")
    assert not untyped, untyped


def test_creates_declare_the_replay_beside_201(document: dict[str, Any]) -> None:
    creates = 0
    for method, path, operation in operations(document):
        responses = operation["responses"]
        if "201" not in responses:
            continue
        creates += 1
        assert "200" in responses, (method, path)
        created = responses["201"]["content"]["application/json"]["schema"]
        assert responses["200"]["content"]["application/json"]["schema"] == created
        takes_key = any(
            p["in"] == "header" and p["name"] == "Idempotency-Key"
            for p in operation.get("parameters", [])
        )
        if takes_key:
            header = responses["200"].get("headers", {}).get("Idempotent-Replayed")
            assert header is not None, (method, path)
            assert header["schema"] == {"type": "string", "enum": ["true"]}
    assert creates >= 3


def test_retry_after_is_declared_on_every_429_502_and_503(document: dict[str, Any]) -> None:
    declared = 0
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status not in ("429", "502", "503"):
                continue
            header = response.get("headers", {}).get("Retry-After")
            assert header is not None, (method, path, status)
            assert header["schema"]["type"] == "integer", (method, path, status)
            declared += 1
    assert declared >= 20


def test_problem_errors_items_are_a_named_schema(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    errors = components["Problem"]["properties"]["errors"]
    assert errors["type"] == "array"
    assert errors["items"] == {"$ref": "#/components/schemas/ProblemFieldError"}
    item = components["ProblemFieldError"]
    assert item["required"] == ["field", "message"]
    assert item["properties"]["field"]["type"] == "string"
    assert item["properties"]["message"]["type"] == "string"
    assert item["additionalProperties"] is True  # more keys allowed


def test_every_operation_says_who_calls_it(document: dict[str, Any]) -> None:
    callers = {}
    for method, path, operation in operations(document):
        caller = operation.get("x-caller")
        assert caller in CALLERS, (method, path, caller)
        callers[(method, path)] = caller
        if path.startswith("/v1/workspaces/"):
            assert caller == "service", (method, path)
        # The tag says it too, for documentation tools that ignore extensions.
        if caller in ("browser", "salesforce", "respondio"):
            assert any(caller in tag for tag in operation["tags"]), (method, path)
    assert callers[("get", "/v1/salesforce/oauth/callback")] == "browser"
    assert callers[("post", "/v1/webhooks/salesforce/outbound-messages/{key}")] == "salesforce"
    assert callers[("get", "/readyz")] == "operator"


def test_settings_read_and_write_models_round_trip(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    settings = "/v1/workspaces/{workspace_id}/salesforce/settings"
    read_ref = document["paths"][settings]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    write_ref = document["paths"][settings]["put"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["$ref"]
    read = components[read_ref.rsplit("/", 1)[1]]
    write = components[write_ref.rsplit("/", 1)[1]]
    # Everything a GET answers may be sent back as it is.
    assert set(read["properties"]) <= set(write["properties"])
    assert write.get("additionalProperties") is False
    # What a GET always carries is required in the read model (no Optional in clients).
    for key in ("record_creation_enabled", "activity_logging_enabled", "leads"):
        assert key in read["required"], key
    assert read["properties"]["warnings"].get("readOnly") is True
