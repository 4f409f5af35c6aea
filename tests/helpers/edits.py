"""The HTTP steps of the edit tests: set a workspace up for editing, edit, revert, read the
history, and what Salesforce and the database then hold."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from app.models import ContactFieldEdit
from tests.helpers.contact_app import ACME, Connect

ANA = "0035g0000006SevAAE"  # Ana Souza: Title "Head of Operations", LeadSource "Web"
ANA_EMAIL = "ana.souza@example.com"
DELETED = "0035g0000006SyoAAE"
VISIBLE = [
    "Name",
    "Email",
    "Phone",
    "MobilePhone",
    "Title",
    "LeadSource",
    "Birthdate",
    "HasOptedOutOfEmail",
    "Customer_Score__c",
    "Engagement_Level__c",
    "Preferred_Language__c",
    "Description",
    "FirstName",
]
CONTACTS = "/v1/workspaces/{ws}/salesforce/contacts"
LEADS = "/v1/workspaces/{ws}/salesforce/leads"
LENA = "00Q5g0000006TPJEA2"  # Lena Only, lead.only@example.com: a Lead and no Contact
LENA_EMAIL = "lead.only@example.com"
LEAD_VISIBLE = ["Name", "Company", "Email", "Phone", "MobilePhone", "Title", "Status"]


async def setup_workspace(
    client: httpx.AsyncClient,
    auth: Any,
    connect: Connect,
    ws: str = "ws-1",
    org: str = ACME,
    *,
    editing: bool = True,
    visible: list[str] | None = None,
    leads: list[str] | None = None,
) -> None:
    """Connected, with `editing` as given; `leads` turns Leads on with those visible fields."""
    await connect(ws, org)
    document = {
        "visible_fields": visible or VISIBLE,
        "editing_enabled": editing,
        "phone_matching": "exact",
        "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
    }
    if leads is not None:
        document["leads"] = {"enabled": True, "visible_fields": leads}
    response = await client.put(
        f"/v1/workspaces/{ws}/salesforce/settings", json=document, headers=auth(ws, "owner")
    )
    assert response.status_code == 200, response.text


async def edit(
    client: httpx.AsyncClient,
    auth: Any,
    fields: dict[str, Any],
    contact: str = ANA,
    ws: str = "ws-1",
    user: str = "agent-7",
    path: str = CONTACTS,
) -> httpx.Response:
    return await client.patch(
        f"{path.format(ws=ws)}/{contact}",
        json={"fields": fields},
        headers=auth(ws, "agent", user),
    )


async def revert(
    client: httpx.AsyncClient,
    auth: Any,
    field: str,
    contact: str = ANA,
    ws: str = "ws-1",
    user: str = "agent-8",
    force: bool = False,
    path: str = CONTACTS,
) -> httpx.Response:
    return await client.post(
        f"{path.format(ws=ws)}/{contact}/fields/{field}/revert",
        params={"force": "true"} if force else None,
        headers=auth(ws, "agent", user),
    )


async def history(
    client: httpx.AsyncClient,
    auth: Any,
    contact: str = ANA,
    ws: str = "ws-1",
    path: str = CONTACTS,
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{path.format(ws=ws)}/{contact}/history", headers=auth(ws, "agent")
    )
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def values(contact: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f["value"] for f in contact["fields"]}


def stored(sf_emulator: Any, contact: str = ANA, org: str = ACME) -> dict[str, Any]:
    record: dict[str, Any] = sf_emulator.get_contact(org, contact)
    return record


async def edit_rows(app: Any) -> list[ContactFieldEdit]:
    async with app.state.services.db.transaction() as session:
        return list(await session.scalars(select(ContactFieldEdit).order_by(ContactFieldEdit.id)))
