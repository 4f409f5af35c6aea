"""The served OpenAPI says what the server does (docs/api.md, "Errors")."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM = "application/problem+json"


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


async def test_every_error_is_documented_as_a_problem_document(
    client: httpx.AsyncClient,
) -> None:
    schema = await openapi(client)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if int(status) < 400 or "text/xml" in content:
                    continue
                if operation.get("x-caller") == "operator":
                    # `/readyz` answers its own JSON (`Readiness`), documented as such.
                    assert "$ref" in content["application/json"]["schema"], (path, status)
                    continue
                assert "application/json" not in content, (method, path, status)
                assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
            if path.startswith("/v1/workspaces/"):
                assert "service_unavailable" in operation["responses"]["503"]["description"]
                if operation.get("parameters") or operation.get("requestBody"):
                    assert "422" in operation["responses"], (method, path)


def _parameter(schema: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    parameters = schema["paths"][path][method]["parameters"]
    found: dict[str, Any] = next(p for p in parameters if p["name"] == name)["schema"]
    return found


async def test_the_schema_refuses_what_the_server_refuses(client: httpx.AsyncClient) -> None:
    schema = await openapi(client)
    contacts = "/v1/workspaces/{workspace_id}/salesforce/contacts"
    contact_id = _parameter(schema, contacts + "/{contact_id}", "patch", "contact_id")
    assert contact_id["pattern"] == "^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$"
    field = _parameter(schema, contacts + "/{contact_id}/fields/{field}/revert", "post", "field")
    assert field["pattern"] == "^[A-Za-z][A-Za-z0-9_]*$"
    email = _parameter(schema, contacts + "/lookup", "get", "email")
    assert "pattern" in str(email)
    components = schema["components"]["schemas"]
    assert components["RespondioCredentialsIn"]["properties"]["api_token"]["minLength"] == 1
    return_url = str(components["ConnectRequest"]["properties"]["return_url"])
    assert "'format': 'uri'" in return_url
    visible = str(components["SettingsDocument"]["properties"]["visible_fields"])
    assert "^[A-Za-z][A-Za-z0-9_]*$" in visible
