"""Edits, reverts and creates under a profile that hides fields (field-level security,
contract 10.3): nothing hidden is read back or written, and no 5xx."""

from __future__ import annotations

from typing import Any

from tests.helpers.contact_app import ACME
from tests.helpers.edits import ANA, edit, revert, setup_workspace, stored
from tests.helpers.emulator_control import hide_fields

ADMIN = "0055g000000GR2fAAG"  # the connected user


async def hide(sf: Any, **hidden: list[str]) -> None:
    await hide_fields(sf, ACME, ADMIN, **hidden)


async def test_an_edit_and_its_revert_read_back_only_visible_fields(
    client, auth, connect, sf_emulator
) -> None:
    await hide(sf_emulator, Contact=["MobilePhone", "Email"])
    await setup_workspace(client, auth, connect, visible=["Name", "Phone", "Title"])
    before = stored(sf_emulator)["Title"]

    edited = await edit(client, auth, {"Title": "Head of Sales"})
    assert edited.status_code == 200, edited.text
    assert [f["name"] for f in edited.json()["fields"]] == ["Name", "Phone", "Title"]
    assert stored(sf_emulator)["Title"] == "Head of Sales"

    reverted = await revert(client, auth, "Title")
    assert reverted.status_code == 200, reverted.text
    assert stored(sf_emulator)["Title"] == before


async def test_a_hidden_field_cannot_be_edited_or_created(
    client, auth, connect, sf_emulator
) -> None:
    await hide(sf_emulator, Contact=["MobilePhone"])
    await setup_workspace(client, auth, connect, visible=["Name", "Phone", "Title"])
    settings = "/v1/workspaces/ws-1/salesforce/settings"
    document = (await client.get(settings, headers=auth("ws-1", "owner"))).json()
    document["record_creation_enabled"] = True
    document.pop("warnings", None)
    saved = await client.put(settings, json=document, headers=auth("ws-1", "owner"))
    assert saved.status_code == 200, saved.text

    edited = await edit(client, auth, {"MobilePhone": "+60 1"})
    created = await client.post(
        "/v1/workspaces/ws-1/salesforce/contacts",
        json={"fields": {"LastName": "Hidden", "MobilePhone": "+60 1"}},
        headers=auth("ws-1", "agent"),
    )
    fine = await client.post(
        "/v1/workspaces/ws-1/salesforce/contacts",
        json={"fields": {"LastName": "Visible", "Phone": "+60 2"}},
        headers=auth("ws-1", "agent"),
    )

    assert edited.status_code == 422, edited.text
    assert created.status_code == 422, created.text
    assert created.json()["errors"] == [
        {"field": "fields.MobilePhone", "message": "is not a field of Contact"}
    ]
    assert fine.status_code == 201, fine.text
    assert stored(sf_emulator, ANA)["MobilePhone"] is None
