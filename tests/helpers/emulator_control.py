"""The Salesforce emulator's control API (`/__emulator`, see emulator/README.md) over HTTP."""

from __future__ import annotations

from typing import Any

import httpx


async def control(sf_emulator: Any, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=sf_emulator.base_url, timeout=10) as http:
        response = await http.request(method, f"/__emulator{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


async def token_fault(sf_emulator: Any, fault: str, count: int = 100) -> None:
    """The next `count` refresh-token requests answer `fault` (emulator's TOKEN_FAULTS)."""
    await control(
        sf_emulator,
        "POST",
        "/token-faults",
        {"fault": fault, "grant_type": "refresh_token", "count": count},
    )


async def advance_days(sf_emulator: Any, days: float) -> None:
    await control(sf_emulator, "POST", "/clock", {"advance_days": days})


async def hide_fields(
    sf_emulator: Any, org_id: str, user_id: str, profile: str = "Integration", **hidden: list[str]
) -> None:
    """Field-level security: the user gets `profile`, which hides these fields, e.g.
    `hide_fields(sf, ACME, ADMIN, Contact=["MobilePhone"])`."""
    await control(sf_emulator, "PUT", f"/orgs/{org_id}/profiles/{profile}/hidden-fields", hidden)
    await control(
        sf_emulator, "PUT", f"/orgs/{org_id}/users/{user_id}/profile", {"profile": profile}
    )
