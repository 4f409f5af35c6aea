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


class EmulatorAdmin:
    """The Salesforce emulator's control API (`/__emulator`), over HTTP like any test tool."""

    def __init__(self, sf_emulator: Any) -> None:
        self.base = sf_emulator.base_url + "/__emulator"

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient() as http:
            response = await http.request(method, self.base + path, json=body)
        assert response.status_code < 300, response.text
        return response.json()

    async def index_delay(self, seconds: int) -> None:
        await self._call("PUT", "/settings", {"search_index_delay_seconds": seconds})

    async def advance(self, seconds: int) -> None:
        await self._call("POST", "/clock", {"advance_seconds": seconds})

    async def create(self, org_id: str, kind: str, **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = await self._call("POST", f"/orgs/{org_id}/{kind}", fields)
        return record

    async def change(self, org_id: str, kind: str, record_id: str, **fields: Any) -> None:
        await self._call("PATCH", f"/orgs/{org_id}/{kind}/{record_id}", fields)

    async def convert(self, org_id: str, lead_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call(
            "POST", f"/orgs/{org_id}/leads/{lead_id}/convert", {}
        )
        return answer
