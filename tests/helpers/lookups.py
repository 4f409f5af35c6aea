"""The HTTP steps of the lookup tests."""

from __future__ import annotations

from typing import Any

import httpx

URL = "/v1/workspaces/{ws}/salesforce/contacts/lookup"
DEFAULT_FIELDS = ["Name", "Email", "Phone", "MobilePhone", "Title", "LeadSource"]


async def lookup(
    client: httpx.AsyncClient, auth: Any, ws: str = "ws-1", role: str = "agent", **params: str
) -> httpx.Response:
    return await client.get(URL.format(ws=ws), params=params, headers=auth(ws, role))


def contact_with(sf_emulator: Any, org_id: str, **fields: Any) -> dict[str, Any]:
    return next(
        c
        for c in sf_emulator.org(org_id).contacts.values()
        if all(c.get(k) == v for k, v in fields.items())
    )


async def put_settings(client: httpx.AsyncClient, auth: Any, ws: str = "ws-1", **changes: Any):
    current = (
        await client.get(f"/v1/workspaces/{ws}/salesforce/settings", headers=auth(ws, "owner"))
    ).json()
    current.update(changes)
    response = await client.put(
        f"/v1/workspaces/{ws}/salesforce/settings", json=current, headers=auth(ws, "owner")
    )
    assert response.status_code == 200, response.text
    return response.json()
