"""Connecting with client credentials: an External Client App made at the emulator, and the
connect request that uses its consumer key and secret."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.emulator_control import control

ACME = "00D5g000003GIV7EAO"


def my_domain(sf_emulator: Any) -> str:
    return str(sf_emulator.base_url.split("://", 1)[1])


async def external_client_app(sf_emulator: Any, org: str = ACME, **body: Any) -> dict[str, Any]:
    app: dict[str, Any] = await control(
        sf_emulator,
        "POST",
        "/client-credentials-apps",
        {"org_id": org, "run_as": "sales@acme.example" if org == ACME else None, **body},
    )
    return app


async def connect_cc(
    client: httpx.AsyncClient,
    auth: Any,
    sf_emulator: Any,
    app: dict[str, Any],
    *,
    ws: str = "ws-1",
    role: str = "owner",
    **changes: Any,
) -> httpx.Response:
    body = {
        "method": "client_credentials",
        "my_domain": my_domain(sf_emulator),
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "environment": "production",
        **changes,
    }
    return await client.post(
        f"/v1/workspaces/{ws}/salesforce/connect", json=body, headers=auth(ws, role)
    )


async def change_app(sf_emulator: Any, app: dict[str, Any], **changes: Any) -> None:
    """Change the External Client App at Salesforce (`enabled`, `client_secret`)."""
    await control(sf_emulator, "PATCH", f"/client-credentials-apps/{app['client_id']}", changes)
