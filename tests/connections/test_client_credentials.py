"""Connecting with an integration user (contract 10.1): an External Client App with the
client credentials flow and a run-as user, connected without a browser, renewed the same way
(there is no refresh token), its secret stored encrypted, rotated and forgotten."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx

from app.config import Settings
from app.models import Connection, SalesforceGrant
from tests.helpers.browser import Browser
from tests.helpers.client_credentials import change_app, connect_cc, external_client_app
from tests.helpers.emulator_control import control
from tests.helpers.factories import stored_rows
from tests.helpers.lookups import lookup
from tests.helpers.processes import run_together

ACME = "00D5g000003GIV7EAO"
GLOBEX = "00D8c000003VlcBEAS"
ACME_SALES_ID = "0055g000000GR44AAG"
ANA = "ana.souza@example.com"


async def grants(app: Any) -> list[SalesforceGrant]:
    return await stored_rows(app.state.services.db, SalesforceGrant)


async def connections(app: Any) -> list[Connection]:
    return await stored_rows(app.state.services.db, Connection)


async def test_connects_without_a_browser_and_looks_up(
    client: httpx.AsyncClient, auth: Any, app: Any, sf_emulator: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    ext = await external_client_app(sf_emulator)

    response = await connect_cc(client, auth, sf_emulator, ext)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "connected"
    assert body["method"] == "client_credentials"
    assert body["organization_id"] == ACME
    assert body["organization_name"] == "Acme Corporation"
    assert body["username"] == "sales@acme.example"
    assert body["instance_url"] == sf_emulator.base_url
    assert body["shared_grant_workspaces"] == 1
    assert body["connected_by"] == "user-1"
    assert "client_secret" not in response.text and ext["client_secret"] not in response.text
    assert sf_emulator.counters["token.client_credentials"] == 1
    assert sf_emulator.counters["token.authorization_code"] == 0
    status = (await client.get("/v1/workspaces/ws-1/salesforce/connection", headers=auth())).json()
    assert status["method"] == "client_credentials" and status["status"] == "connected"

    found = await lookup(client, auth, email=ANA)
    assert found.status_code == 200, found.text
    assert found.json()["matched"] is True

    # The secret is stored encrypted, never in plain text.
    [grant] = await grants(app)
    cipher = app.state.services.cipher
    assert grant.method == "client_credentials" and grant.refresh_token_encrypted is None
    assert grant.client_id == ext["client_id"]
    assert grant.client_secret_encrypted is not None
    assert ext["client_secret"] not in grant.client_secret_encrypted
    assert cipher.decrypt(grant.client_secret_encrypted) == ext["client_secret"]
    # Renewed with the secret on an expired token; no log line carries the secret or a token.
    sf_emulator.expire_access_tokens()
    assert (await lookup(client, auth, email="priya.raman@example.com")).status_code == 200
    assert sf_emulator.counters["token.client_credentials"] == 2
    secrets = {ext["client_secret"], *sf_emulator.access_tokens}
    assert "salesforce.token.refreshed" in {r.getMessage() for r in caplog.records}
    for record in caplog.records:
        line = json.dumps(vars(record), default=str) + record.getMessage()
        assert not any(secret in line for secret in secrets), line


async def test_web_server_connections_show_their_method(browser: Browser) -> None:
    assert (await browser.connect()).status_code == 200
    status = await browser.status()
    assert status["method"] == "web_server"
    assert status["shared_grant_workspaces"] == 1


async def test_refusals_store_nothing(
    client: httpx.AsyncClient, auth: Any, app: Any, sf_emulator: Any
) -> None:
    ext = await external_client_app(sf_emulator)

    wrong = await connect_cc(client, auth, sf_emulator, ext, client_secret="not-it")
    assert wrong.status_code == 422, wrong.text
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["code"] == "salesforce_credentials_rejected"
    assert "invalid client credentials" in wrong.json()["detail"]

    unknown = await connect_cc(client, auth, sf_emulator, ext, client_id="3MVG9unknown")
    assert unknown.status_code == 422
    assert "client identifier invalid" in unknown.json()["detail"]

    await change_app(sf_emulator, ext, enabled=False)
    off = await connect_cc(client, auth, sf_emulator, ext)
    assert off.status_code == 422
    assert off.json()["code"] == "salesforce_credentials_rejected"
    assert "no client credentials user enabled" in off.json()["detail"]

    await control(
        sf_emulator, "PATCH", f"/orgs/{ACME}/users/{ACME_SALES_ID}", {"api_enabled": False}
    )
    no_api_app = await external_client_app(sf_emulator)
    no_api = await connect_cc(client, auth, sf_emulator, no_api_app)
    assert no_api.status_code == 403, no_api.text
    assert no_api.json()["code"] == "salesforce_api_disabled"

    assert await grants(app) == [] and await connections(app) == []
    status = (await client.get("/v1/workspaces/ws-1/salesforce/connection", headers=auth())).json()
    assert status["status"] == "disconnected"


async def test_bad_requests_are_validation_errors(
    client: httpx.AsyncClient, auth: Any, sf_emulator: Any
) -> None:
    ext = await external_client_app(sf_emulator)
    for change in ({"client_secret": None}, {"client_id": ""}, {"my_domain": None}):
        response = await connect_cc(client, auth, sf_emulator, ext, **change)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["code"] == "validation_error"
    evil = await connect_cc(client, auth, sf_emulator, ext, my_domain="evil.example")
    assert evil.status_code == 422 and evil.json()["code"] == "validation_error"
    # A browser connect takes no client secret.
    response = await client.post(
        "/v1/workspaces/ws-1/salesforce/connect",
        json={"client_secret": "x"},
        headers=auth("ws-1", "owner"),
    )
    assert response.status_code == 422
    agent = await connect_cc(client, auth, sf_emulator, ext, role="agent")
    assert agent.status_code == 403
    assert sf_emulator.counters["token.client_credentials"] == 0


async def test_twenty_concurrent_lookups_on_an_expired_token_make_one_token_request(
    client: httpx.AsyncClient, auth: Any, sf_emulator: Any
) -> None:
    ext = await external_client_app(sf_emulator)
    assert (await connect_cc(client, auth, sf_emulator, ext)).status_code == 200
    assert (await lookup(client, auth, email=ANA)).status_code == 200
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()

    answers = await asyncio.gather(
        *(lookup(client, auth, email=f"nobody{n}@example.com") for n in range(19)),
        lookup(client, auth, email=ANA),
    )

    assert [a.status_code for a in answers] == [200] * 20
    assert answers[-1].json()["matched"] is True
    assert sf_emulator.counters["token.client_credentials"] == 1
    assert sf_emulator.counters["token.refresh_token"] == 0


async def test_a_new_connect_rotates_the_secret_and_renewals_use_it(
    client: httpx.AsyncClient, auth: Any, app: Any, sf_emulator: Any
) -> None:
    ext = await external_client_app(sf_emulator)
    assert (await connect_cc(client, auth, sf_emulator, ext)).status_code == 200
    first = await connections(app)
    await change_app(sf_emulator, ext, client_secret="rotated-secret")

    again = await connect_cc(client, auth, sf_emulator, ext, client_secret="rotated-secret")

    assert again.status_code == 200, again.text
    [grant] = await grants(app)
    assert app.state.services.cipher.decrypt(grant.client_secret_encrypted) == "rotated-secret"
    assert [c.id for c in await connections(app)] == [c.id for c in first]
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()
    assert (await lookup(client, auth, email=ANA)).status_code == 200
    assert sf_emulator.counters["token.client_credentials"] == 1


async def test_another_orgs_credentials_are_refused_and_change_nothing(
    client: httpx.AsyncClient, auth: Any, app: Any, sf_emulator: Any
) -> None:
    ext = await external_client_app(sf_emulator)
    assert (await connect_cc(client, auth, sf_emulator, ext)).status_code == 200
    before = await grants(app)
    globex = await external_client_app(sf_emulator, GLOBEX, run_as="admin@globex.example")

    response = await connect_cc(client, auth, sf_emulator, globex)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "salesforce_already_connected"
    after = await grants(app)
    assert [(g.id, g.client_id, g.client_secret_encrypted) for g in after] == [
        (g.id, g.client_id, g.client_secret_encrypted) for g in before
    ]
    assert (await lookup(client, auth, email=ANA)).status_code == 200


async def test_a_renewal_refused_asks_for_new_credentials(
    client: httpx.AsyncClient, auth: Any, sf_emulator: Any
) -> None:
    ext = await external_client_app(sf_emulator)
    assert (await connect_cc(client, auth, sf_emulator, ext)).status_code == 200
    await change_app(sf_emulator, ext, enabled=False)
    sf_emulator.expire_access_tokens()

    response = await lookup(client, auth, email=ANA)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "salesforce_reauthorization_required"
    assert response.json()["reason"] == "credentials_rejected"
    assert "no client credentials user enabled" in response.json()["detail"]
    status = (await client.get("/v1/workspaces/ws-1/salesforce/connection", headers=auth())).json()
    assert status["status"] == "reauthorization_required"
    assert status["method"] == "client_credentials"


async def test_disconnect_forgets_the_secret(
    client: httpx.AsyncClient, auth: Any, app: Any, sf_emulator: Any
) -> None:
    ext = await external_client_app(sf_emulator)
    assert (await connect_cc(client, auth, sf_emulator, ext)).status_code == 200

    response = await client.delete(
        "/v1/workspaces/ws-1/salesforce/connection", headers=auth("ws-1", "owner")
    )

    assert response.status_code == 204
    assert await grants(app) == [] and await connections(app) == []
    assert (await lookup(client, auth, email=ANA)).json()["code"] == "salesforce_not_connected"


async def test_two_processes_renew_a_client_credentials_token_once(
    client: httpx.AsyncClient, auth: Any, sf_emulator: Any, settings: Settings
) -> None:
    ext = await external_client_app(sf_emulator)
    assert (await connect_cc(client, auth, sf_emulator, ext)).status_code == 200
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()

    summaries = await run_together(
        "workspace/refresh_process.py", [["ws-1", "20"] for _ in range(2)], settings
    )

    assert summaries == [{"ok": 20, "failed": 0}] * 2
    assert sf_emulator.counters["token.client_credentials"] == 1
