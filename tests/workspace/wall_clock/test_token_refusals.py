"""The token endpoint's refusals, by kind: a dead grant (expired, revoked, user or org
inactive) needs a reconnect and says why; a rate limit backs off; login restrictions and a
refused client are configuration problems that keep the connection. No path refreshes in a
loop: the token calls are counted at the emulator."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers.clock import FakeNow
from tests.helpers.emulator_control import control, token_fault
from tests.helpers.factories import connect_default_user

ACME = "00D5g000003GIV7EAO"
LOOKUP = "/v1/workspaces/ws-1/salesforce/contacts/lookup"
CONNECTION = "/v1/workspaces/ws-1/salesforce/connection"


@pytest.fixture
async def expired(app: Any, sf_emulator: Any) -> None:
    """ws-1 holds a grant whose access token Salesforce no longer accepts."""
    await connect_default_user(app, sf_emulator, sf_emulator.org(ACME))
    await control(sf_emulator, "POST", "/expire-tokens", {})


async def token_calls(sf_emulator: Any) -> int:
    return int(sf_emulator.counters.get("token", 0))


async def lookup(client: httpx.AsyncClient, auth: Any) -> httpx.Response:
    return await client.get(LOOKUP, params={"email": "ana.souza@example.com"}, headers=auth())


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("expired", "grant_expired_or_revoked"),
        ("authentication_failure", "grant_expired_or_revoked"),
        ("inactive_user", "user_inactive"),
        ("inactive_org", "org_inactive"),
    ],
)
async def test_a_dead_grant_needs_reconnecting_and_says_why(
    client: Any, auth: Any, sf_emulator: Any, expired: None, fault: str, reason: str
) -> None:
    await token_fault(sf_emulator, fault)
    before = await token_calls(sf_emulator)

    response = await lookup(client, auth)

    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "salesforce_reauthorization_required"
    assert problem["reason"] == reason
    assert await token_calls(sf_emulator) == before + 1
    connection = (await client.get(CONNECTION, headers=auth())).json()
    assert connection["status"] == "reauthorization_required"
    assert connection["status_reason"] == reason
    assert "reconnect" in connection["status_detail"]
    # Later calls answer at once; Salesforce is not asked again.
    again = await lookup(client, auth)
    assert again.status_code == 409
    assert again.json()["reason"] == reason
    assert await token_calls(sf_emulator) == before + 1


async def test_a_rate_limited_refresh_backs_off(
    client: Any, auth: Any, sf_emulator: Any, expired: None, now: FakeNow
) -> None:
    await token_fault(sf_emulator, "rate_limit_exceeded", count=1)
    before = await token_calls(sf_emulator)

    response = await lookup(client, auth)

    assert response.status_code == 503, response.text
    assert response.json()["code"] == "salesforce_rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 60
    connection = (await client.get(CONNECTION, headers=auth())).json()
    assert connection["status"] == "connected"
    assert connection["status_reason"] == "token_rate_limited"
    # Within the back-off no refresh is tried: no loop against the token endpoint.
    for _ in range(3):
        again = await lookup(client, auth)
        assert again.status_code == 503
        assert "Retry-After" in again.headers
    assert await token_calls(sf_emulator) == before + 1

    now.advance(seconds=61)
    response = await lookup(client, auth)
    assert response.status_code == 200, response.text
    assert await token_calls(sf_emulator) == before + 2
    connection = (await client.get(CONNECTION, headers=auth())).json()
    assert connection["status"] == "connected"
    assert connection["status_reason"] is None


@pytest.mark.parametrize(
    ("fault", "status", "code", "reason"),
    [
        ("ip_restricted", 403, "salesforce_login_restricted", "login_restricted"),
        ("invalid_client_id", 502, "salesforce_client_rejected", "client_rejected"),
        ("invalid_client", 502, "salesforce_client_rejected", "client_rejected"),
    ],
)
async def test_configuration_refusals_keep_the_connection(
    client: Any,
    auth: Any,
    sf_emulator: Any,
    expired: None,
    fault: str,
    status: int,
    code: str,
    reason: str,
) -> None:
    await token_fault(sf_emulator, fault)
    before = await token_calls(sf_emulator)

    response = await lookup(client, auth)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    connection = (await client.get(CONNECTION, headers=auth())).json()
    assert connection["status"] == "connected"
    assert connection["status_reason"] == reason
    assert connection["status_detail"]
    again = await lookup(client, auth)
    assert again.json()["code"] == code
    assert await token_calls(sf_emulator) == before + 1
