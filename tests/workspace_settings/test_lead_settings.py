"""The `leads` settings key and the Lead fields (docs/api.md, "Fields and settings")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.workspace_settings.test_settings import DEFAULTS, FIELDS, SETTINGS, doc, put

LEAD_DEFAULTS = {
    "enabled": False,
    "visible_fields": ["Name", "Company", "Email", "Phone", "Status"],
}


def without_leads(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "leads"}


async def test_lead_fields_come_from_the_lead_describe(client, auth, connect, sf_emulator) -> None:
    await connect("ws-1")
    sf_emulator.reset_counters()
    get = lambda q: client.get(FIELDS.format(ws="ws-1") + q, headers=auth("ws-1", "agent"))  # noqa: E731

    lead = await get("?object=Lead")
    assert lead.status_code == 200
    fields = {f["name"]: f for f in lead.json()}
    assert {"Company", "Status", "IsConverted"} <= set(fields)
    assert "AccountId" not in fields
    assert fields["Status"]["type"] == "picklist" and fields["Status"]["editable"] is True
    assert fields["IsConverted"]["updateable"] is False
    assert fields["Email"]["editable"] is False and fields["Phone"]["editable"] is False

    contact = {f["name"] for f in (await get("")).json()}
    assert contact == {f["name"] for f in (await get("?object=Contact")).json()}
    assert "AccountId" in contact and "Company" not in contact
    # One describe per object, each cached on its own.
    assert (await get("?object=Lead")).json() == lead.json()
    assert sf_emulator.counters["describe"] == 2


async def test_other_objects_are_422(client, auth, connect) -> None:
    await connect("ws-1")
    # Account, Opportunity and Case are listed since the whole customer (10.5); not others.
    for value in ("Task", "lead", "", "Contact,Lead", "account"):
        response = await client.get(
            FIELDS.format(ws="ws-1"), params={"object": value}, headers=auth("ws-1")
        )
        assert response.status_code == 422, value
        assert response.json()["code"] == "validation_error"


async def test_leads_default_and_round_trip(client, auth, connect) -> None:
    await connect("ws-1")
    response = await client.get(SETTINGS.format(ws="ws-1"), headers=auth("ws-1", "agent"))
    assert response.json()["leads"] == LEAD_DEFAULTS

    body = doc(leads={"enabled": True, "visible_fields": ["company", "Status", "Industry"]})
    saved = await put(client, auth, body)
    assert saved.status_code == 200
    expected = {"enabled": True, "visible_fields": ["Company", "Status", "Industry"]}
    assert saved.json()["leads"] == expected
    read = await client.get(SETTINGS.format(ws="ws-1"), headers=auth("ws-1", "agent"))
    assert read.json()["leads"] == expected


async def test_a_put_without_leads_keeps_them(client, auth, connect) -> None:
    await connect("ws-1")
    stored = {"enabled": True, "visible_fields": ["Name", "Industry"]}
    assert (await put(client, auth, doc(leads=stored))).status_code == 200

    # A caller written before `leads` existed sends the old document.
    old_style = without_leads(doc(editing_enabled=True))
    response = await put(client, auth, old_style)
    assert response.status_code == 200
    assert response.json()["leads"] == stored and response.json()["editing_enabled"] is True

    # A first save without `leads` stores the defaults.
    fresh = await put(client, auth, without_leads(DEFAULTS), ws="ws-2")
    assert fresh.status_code == 200 and fresh.json()["leads"] == LEAD_DEFAULTS


async def test_lead_fields_are_checked_against_the_lead_describe(client, auth, connect) -> None:
    await connect("ws-1")
    # AccountId is a Contact field, not a Lead one; Company the other way round.
    bad = doc(leads={"enabled": True, "visible_fields": ["Company", "AccountId", "Company"]})
    response = await put(client, auth, bad)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert "AccountId" in problem["detail"] and "more than once" in problem["detail"]
    assert {e["field"] for e in problem["errors"]} == {"leads.visible_fields"}

    contact_side = await put(client, auth, doc(visible_fields=["Company"]))
    assert contact_side.status_code == 422

    for leads in (
        {"enabled": "yes", "visible_fields": []},
        {"enabled": True},
        {"enabled": True, "visible_fields": ["Name"], "extra": 1},
        {"enabled": True, "visible_fields": [""]},
        None,
    ):
        response = await put(client, auth, doc(leads=leads))
        assert response.status_code == 422, leads


async def test_rows_from_before_leads_read_the_defaults(client, auth, connect, app) -> None:
    """The migration gives existing rows the defaults (server defaults of the new columns)."""
    await connect("ws-1")
    async with app.state.services.db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO workspace_settings (workspace_id, visible_fields, editing_enabled, "
                "phone_matching, auto_create_enabled, auto_create_add_tag, "
                "auto_create_include_bulk_imports) "
                "VALUES ('ws-1', '[\"Name\"]', true, 'exact', false, true, false)"
            )
        )
    response = await client.get(SETTINGS.format(ws="ws-1"), headers=auth("ws-1", "agent"))
    assert response.json()["leads"] == LEAD_DEFAULTS
    assert response.json()["editing_enabled"] is True
