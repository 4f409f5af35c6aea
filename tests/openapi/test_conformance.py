"""The served OpenAPI says what the server enforces, and the server refuses what the
document refuses (schema-driven conformance; docs/api.md, "OpenAPI and generated clients")."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.contact_app import ACME
from tests.helpers.lookups import lookup

WS = "/v1/workspaces/ws-1/salesforce"


def _schema_of(document: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def _body(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    ref = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return _schema_of(document, ref["$ref"])


def _matches(pattern: str, value: str) -> bool:
    return re.search(pattern, value) is not None


@pytest.mark.parametrize("method", ["PATCH", "PUT", "POST", "DELETE"])
async def test_other_methods_on_the_lookup_are_405(client, auth, method: str) -> None:
    response = await client.request(method, f"{WS}/contacts/lookup", headers=auth("ws-1"))
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == "GET"
    assert response.json()["code"] == "method_not_allowed"


async def test_empty_return_url_and_my_domain_are_refused(client, auth, document) -> None:
    request = _body(document, "/v1/workspaces/{workspace_id}/salesforce/connect", "post")
    for field in ("return_url", "my_domain"):
        declared = request["properties"][field]["anyOf"][0]
        assert not _matches(declared["pattern"], ""), field
        response = await client.post(f"{WS}/connect", json={field: ""}, headers=auth("ws-1"))
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"] == field


async def test_the_document_states_the_lookup_needs_an_identifier(client, auth, document) -> None:
    operation = document["paths"]["/v1/workspaces/{workspace_id}/salesforce/contacts/lookup"]
    assert operation["get"]["x-at-least-one-of"] == ["email", "phone"]
    assert (await client.get(f"{WS}/contacts/lookup", headers=auth("ws-1"))).status_code == 422


def test_the_document_states_the_record_id_checksum(document) -> None:
    path = "/v1/workspaces/{workspace_id}/salesforce/contacts/{contact_id}"
    contact_id = next(p for p in document["paths"][path]["patch"]["parameters"])
    assert "checksum" in contact_id["description"]
    assert contact_id["schema"]["x-salesforce-id-checksum"] is True


async def test_field_maps_declare_their_keys(client, auth, connect, document) -> None:
    await connect("ws-1")
    for path, method in (
        ("/v1/workspaces/{workspace_id}/salesforce/contacts", "post"),
        ("/v1/workspaces/{workspace_id}/salesforce/contacts/{contact_id}", "patch"),
    ):
        fields = _body(document, path, method)["properties"]["fields"]
        assert fields["propertyNames"]["pattern"] == "^[A-Za-z][A-Za-z0-9_]*$"
        assert "patternProperties" not in fields
        assert fields["additionalProperties"]["anyOf"]
    refused = await client.patch(
        f"{WS}/contacts/0035g0000006SevAAE", json={"fields": {"9Title": "x"}}, headers=auth()
    )
    assert refused.status_code == 422


async def test_lead_creates_declare_company_and_contact_creates_last_name(
    client, auth, connect, document
) -> None:
    contact = _body(document, "/v1/workspaces/{workspace_id}/salesforce/contacts", "post")
    lead = _body(document, "/v1/workspaces/{workspace_id}/salesforce/leads", "post")
    assert contact["properties"]["fields"]["required"] == ["LastName"]
    assert lead["properties"]["fields"]["required"] == ["LastName", "Company"]
    await connect("ws-1")
    settings = (await client.get(f"{WS}/settings", headers=auth())).json()
    settings.update(record_creation_enabled=True)
    settings["leads"]["enabled"] = True
    assert (await client.put(f"{WS}/settings", json=settings, headers=auth())).status_code == 200
    no_company = await client.post(
        f"{WS}/leads", json={"fields": {"LastName": "Lima"}}, headers=auth()
    )
    assert no_company.status_code == 422
    assert "Company" in no_company.text


async def test_leads_null_is_refused_as_documented(client, auth, document) -> None:
    update = _body(document, "/v1/workspaces/{workspace_id}/salesforce/settings", "put")
    leads = update["properties"]["leads"]
    assert leads["$ref"] == "#/components/schemas/LeadSettingsDocument"
    assert "anyOf" not in leads and "type" not in leads
    assert "leads" not in update.get("required", [])
    settings = (await client.get(f"{WS}/settings", headers=auth())).json()
    settings["leads"] = None
    refused = await client.put(f"{WS}/settings", json=settings, headers=auth())
    assert refused.status_code == 422


async def test_api_token_format_is_what_the_server_accepts(client, auth, document) -> None:
    api_token = _schema_of(document, "RespondioCredentialsIn")["properties"]["api_token"]
    pattern = api_token["pattern"]
    path = "/v1/workspaces/ws-1/respondio-credentials"
    cases = ["rio-token", "  padded-token \n", "a\x1cb", "two words", "é-token", "x" * 4097, ""]
    for token in cases:
        response = await client.put(path, json={"api_token": token}, headers=auth())
        assert (response.status_code == 200) == _matches(pattern, token), (token[:20], response)


async def test_settings_answered_by_a_get_can_be_put_back_as_they_are(client, auth) -> None:
    before = (await client.get(f"{WS}/settings", headers=auth())).json()
    put = await client.put(f"{WS}/settings", json=before, headers=auth())
    assert put.status_code == 200, put.text
    assert put.json() == before
    assert (await client.get(f"{WS}/settings", headers=auth())).json() == before


async def test_salesforce_unavailable_answers_502_with_retry_after(
    client, auth, connect, sf_emulator
) -> None:
    await connect("ws-1")
    sf_emulator.set_fault(ACME, "server_unavailable")
    response = await lookup(client, auth, email="ben.tan@example.com")
    assert response.status_code == 502
    assert response.json()["code"] == "salesforce_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


async def test_activity_record_ids_are_documented_as_checked(client, auth, document) -> None:
    body = _body(document, "/v1/workspaces/{workspace_id}/salesforce/activities", "post")
    record_id = body["properties"]["record_id"]
    assert record_id["x-salesforce-id-checksum"] is True
    assert not _matches(record_id["pattern"], "001000000000000AAA")  # an Account's id
    assert _matches(record_id["pattern"], "0035g0000006SevAAE")
    listed = document["paths"]["/v1/workspaces/{workspace_id}/salesforce/activities"]["get"]
    query = next(p for p in listed["parameters"] if p["name"] == "record_id")
    assert query["schema"]["pattern"] == record_id["pattern"]
    for wrong in ("001000000000000AAA", "0035g0000006SevAAA"):  # prefix, checksum
        answer = await client.get(
            f"{WS}/activities", params={"record_id": wrong}, headers=auth("ws-1")
        )
        assert answer.status_code == 422, (wrong, answer.text)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Title"]}, "fields.Title"),
        ({"error_code": "ENTITY_IS_LOCKED"}, ""),
    ],
)
async def test_salesforce_errors_are_problem_field_errors_too(
    client, auth, connect, sf_emulator, spec: dict[str, Any], field: str
) -> None:
    """`salesforce_validation_failed` keeps Salesforce's keys, and each item has the
    ProblemFieldError's `field` and `message` (contract: one schema for every `errors`)."""
    from tests.edits.test_write_rejections import write_fault
    from tests.helpers.edits import edit, setup_workspace

    await setup_workspace(client, auth, connect)
    await write_fault(sf_emulator, **spec)
    response = await edit(client, auth, {"Title": "Rejected"})
    assert response.status_code == 422, response.text
    [item] = response.json()["errors"]
    assert item["field"] == field
    assert isinstance(item["message"], str) and item["message"]
    assert item["errorCode"] == spec["error_code"]
