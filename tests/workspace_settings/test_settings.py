"""Fields from the describe and the settings document."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.models import WorkspaceSettings

FIELDS = "/v1/workspaces/{ws}/salesforce/fields"
SETTINGS = "/v1/workspaces/{ws}/salesforce/settings"
DEFAULTS = {
    "visible_fields": ["Name", "Email", "Phone", "MobilePhone", "Title", "LeadSource"],
    "editing_enabled": False,
    "phone_matching": "exact",
    "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
    "record_creation_enabled": False,
    "activity_logging_enabled": False,
    "leads": {"enabled": False, "visible_fields": ["Name", "Company", "Email", "Phone", "Status"]},
    "related": {
        "account": {"enabled": False, "fields": ["Name", "Industry", "Phone"]},
        "opportunities": {
            "enabled": False,
            "fields": ["Name", "StageName", "Amount", "CloseDate"],
            "limit": 5,
        },
        "cases": {
            "enabled": False,
            "fields": ["CaseNumber", "Subject", "Status", "Priority"],
            "limit": 5,
        },
    },
    "record_creation": {"person_accounts": False},
    "conversation_logging": {"enabled": False, "min_messages": 1},
}


def doc(**changes: Any) -> dict[str, Any]:
    return {**DEFAULTS, **changes}


async def put(client, auth, body: Any, ws: str = "ws-1", role: str = "owner"):
    return await client.put(SETTINGS.format(ws=ws), json=body, headers=auth(ws, role))


async def test_fields_come_from_the_describe(client, auth, connect, sf_emulator) -> None:
    await connect("ws-1")
    response = await client.get(FIELDS.format(ws="ws-1"), headers=auth("ws-1", "agent"))

    assert response.status_code == 200
    fields = {f["name"]: f for f in response.json()}
    assert fields["Title"] == {
        "name": "Title",
        "label": "Title",
        "type": "string",
        "updateable": True,
        "editable": True,
        "nillable": True,
        "length": 128,
        "picklist_values": [],
    }
    assert fields["Email"]["updateable"] is True and fields["Email"]["editable"] is False
    assert fields["Phone"]["editable"] is False
    assert fields["Name"]["updateable"] is False and fields["Name"]["editable"] is False
    assert {"value": "Web", "label": "Web", "active": True} in fields["LeadSource"][
        "picklist_values"
    ]


async def test_fields_are_cached_revalidated_and_purged(
    client, auth, connect, sf_emulator, clock, app
) -> None:
    await connect("ws-1")
    sf_emulator.reset_counters()
    get = lambda: client.get(FIELDS.format(ws="ws-1"), headers=auth("ws-1"))  # noqa: E731

    first = (await get()).json()
    assert (await get()).json() == first
    assert sf_emulator.counters["describe"] == 1

    clock.advance(601)  # past FIELDS_CACHE_TTL_SECONDS: If-Modified-Since, answered 304
    assert (await get()).json() == first
    assert (await get()).json() == first
    assert sf_emulator.counters["describe"] == 2

    # A purge forgets this process's copy; the connection's describe is shared by every
    # process in the database, so it is read from there, not asked of Salesforce again.
    await app.state.services.invalidation.purge_workspace("ws-1")
    assert (await get()).json() == first
    assert sf_emulator.counters["describe"] == 2

    await connect("ws-1")  # a new connection (maybe another org): its own describe
    assert (await get()).json() == first
    assert sf_emulator.counters["describe"] == 3


async def test_fields_need_a_connection(client, auth) -> None:
    response = await client.get(FIELDS.format(ws="ws-1"), headers=auth("ws-1"))
    assert response.status_code == 409
    assert response.json()["code"] == "salesforce_not_connected"


async def test_get_returns_defaults_without_a_connection(client, auth) -> None:
    response = await client.get(SETTINGS.format(ws="ws-1"), headers=auth("ws-1", "agent"))
    assert response.status_code == 200
    assert response.json() == DEFAULTS


async def test_put_replaces_the_document(client, auth, connect, app) -> None:
    await connect("ws-1")
    body = doc(
        visible_fields=["title", "Email", "Customer_Score__c"],
        editing_enabled=True,
        phone_matching="normalized",
        auto_create={"enabled": True, "add_tag": False, "include_bulk_imports": True},
    )
    response = await put(client, auth, body, role="manager")

    assert response.status_code == 200
    expected = {**body, "visible_fields": ["Title", "Email", "Customer_Score__c"]}
    answer = response.json()
    # Auto-create is on and no respond.io token is stored (tests/.../test_settings_warnings.py).
    assert [w["code"] for w in answer.pop("warnings")] == ["respondio_token_missing"]
    assert answer == expected
    read = (await client.get(SETTINGS.format(ws="ws-1"), headers=auth("ws-1", "agent"))).json()
    read.pop("warnings")
    assert read == expected
    async with app.state.services.db.transaction() as session:
        row = await session.scalar(select(WorkspaceSettings))
    assert row is not None and row.updated_by == "user-1"
    enabled_at = row.auto_create_enabled_at
    assert enabled_at is not None

    # Still enabled: the moment it was switched on is kept.
    assert (await put(client, auth, {**expected, "editing_enabled": False})).status_code == 200
    async with app.state.services.db.transaction() as session:
        row = await session.scalar(select(WorkspaceSettings))
    assert row is not None and row.auto_create_enabled_at == enabled_at


async def test_unknown_fields_are_named(client, auth, connect) -> None:
    await connect("ws-1")
    response = await put(client, auth, doc(visible_fields=["Title", "Nope__c", "Shoe_Size"]))

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert "Nope__c" in problem["detail"] and "Shoe_Size" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["visible_fields", "visible_fields"]

    repeated = await put(client, auth, doc(visible_fields=["Title", "TITLE"]))
    assert repeated.status_code == 422 and "more than once" in repeated.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {**DEFAULTS, "colour": "blue"},
        {**DEFAULTS, "auto_create": {**DEFAULTS["auto_create"], "extra": 1}},
        {k: v for k, v in DEFAULTS.items() if k != "phone_matching"},
        {**DEFAULTS, "phone_matching": "fuzzy"},
        {**DEFAULTS, "editing_enabled": "yes"},
        {**DEFAULTS, "visible_fields": "Title"},
        {**DEFAULTS, "visible_fields": [""]},
        ["not", "an", "object"],
    ],
)
async def test_invalid_documents_are_422(client, auth, connect, body) -> None:
    await connect("ws-1")
    response = await put(client, auth, body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_only_owners_and_managers_change_settings(client, auth, connect) -> None:
    await connect("ws-1")
    agent = await put(client, auth, doc(editing_enabled=True), role="agent")
    assert agent.status_code == 403 and agent.json()["code"] == "forbidden"
    other = await client.put(SETTINGS.format(ws="ws-1"), json=doc(), headers=auth("ws-2"))
    assert other.status_code == 403
    assert (await put(client, auth, doc(editing_enabled=True), role="owner")).status_code == 200


async def test_changing_visible_fields_needs_a_connection(client, auth) -> None:
    response = await put(client, auth, doc(visible_fields=["Title"]))
    assert response.status_code == 409
    assert response.json()["code"] == "salesforce_not_connected"
    # Other settings can be saved before connecting.
    response = await put(client, auth, doc(phone_matching="normalized"))
    assert response.status_code == 200
    assert response.json()["phone_matching"] == "normalized"


async def test_a_settings_change_applies_to_the_next_lookup(client, auth, connect) -> None:
    await connect("ws-1")
    lookup = "/v1/workspaces/ws-1/salesforce/contacts/lookup"
    first = await client.get(lookup, params={"phone": "+60123456789"}, headers=auth("ws-1"))
    assert first.json()["matched"] is False
    assert (await put(client, auth, doc(phone_matching="normalized"))).status_code == 200
    second = await client.get(lookup, params={"phone": "+60123456789"}, headers=auth("ws-1"))
    assert second.json()["matched"] is True


async def test_openapi_declares_the_errors(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    lookup = spec["paths"]["/v1/workspaces/{workspace_id}/salesforce/contacts/lookup"]["get"]
    assert {"401", "403", "409", "422", "502", "503"} <= set(lookup["responses"])
    put_op = spec["paths"]["/v1/workspaces/{workspace_id}/salesforce/settings"]["put"]
    assert {"403", "409", "422"} <= set(put_op["responses"])
