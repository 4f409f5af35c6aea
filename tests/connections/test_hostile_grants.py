"""Token answers that must not be trusted, and grants that must not be kept: a hostile or
broken `instance_url`, answers that are not JSON, connects refused after the token exchange
(every such grant is revoked at Salesforce)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from app.models import Connection
from tests.helpers.browser import ACME_ADMIN, GLOBEX_ADMIN, INITECH_ADMIN, Browser

ACME = "00D5g000003GIV7EAO"
LOOKUP = "/v1/workspaces/ws-1/salesforce/contacts/lookup"


def hostile_instance_urls(base: str) -> list[str]:
    host = base.split("://", 1)[1]
    return [
        f"{base}#@evil.example",
        f"{base}\\@evil.example",
        f"http://user:pass@{host}",
        f"{base}/services/data",
        f"{base}?x=1",
        f"{base}/#",
        "https://evil.example",
        f"ftp://{host}",
        f"{base} ",
        f" {base}",
        f"{base}\t",
    ]


async def rows(app: Any) -> list[Connection]:
    async with app.state.services.db.transaction() as session:
        return list((await session.scalars(select(Connection))).all())


def live_grants(sf_emulator: Any) -> int:
    return sum(1 for grant in sf_emulator.grants.values() if not grant.revoked)


@pytest.mark.parametrize("index", range(11))
async def test_a_hostile_instance_url_at_connect_stores_nothing_and_revokes_the_grant(
    browser: Browser, app: Any, sf_emulator: Any, index: int
) -> None:
    instance_url = hostile_instance_urls(sf_emulator.base_url)[index]
    sf_emulator.token_answer_overrides = {"instance_url": instance_url}

    response = await browser.connect()

    assert response.status_code == 502, response.text
    assert "Error code: salesforce_unavailable" in response.text
    assert "evil.example" not in response.text
    assert await rows(app) == []
    assert sf_emulator.counters["token.authorization_code"] == 1
    assert sf_emulator.counters["revoke"] == 1


async def test_the_stored_instance_url_is_the_origin_only(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    sf_emulator.token_answer_overrides = {"instance_url": sf_emulator.base_url + "/"}
    assert (await browser.connect()).status_code == 200
    [row] = await rows(app)
    assert row.instance_url == sf_emulator.base_url


async def test_every_refused_connect_revokes_its_grant(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    """Off-domain instance URL, another org on reauthorization, an org or a user without API
    access: each grant obtained is handed back, counted at Salesforce."""
    assert (await browser.connect(username=ACME_ADMIN)).status_code == 200
    revoked = sf_emulator.counters["revoke"]

    other_org = await browser.connect(username=GLOBEX_ADMIN)
    assert other_org.status_code == 409
    assert sf_emulator.counters["revoke"] == revoked + 1

    no_api_org = await browser.connect(workspace="ws-2", username=INITECH_ADMIN)
    assert no_api_org.status_code == 403
    assert sf_emulator.counters["revoke"] == revoked + 2

    org = sf_emulator.org(ACME)
    user = next(u for u in org.users.values() if u.username == ACME_ADMIN)
    user.api_enabled = False
    no_api_user = await browser.connect(workspace="ws-3", username=ACME_ADMIN)
    user.api_enabled = True
    assert no_api_user.status_code in (403, 502)
    assert sf_emulator.counters["revoke"] == revoked + 3

    sf_emulator.token_answer_overrides = {"instance_url": "https://evil.example"}
    off_domain = await browser.connect(workspace="ws-4", username=ACME_ADMIN)
    assert off_domain.status_code == 502
    assert sf_emulator.counters["revoke"] == revoked + 4
    # Only the one connection that was accepted still holds a grant.
    assert [r.workspace_id for r in await rows(app)] == ["ws-1"]
    assert live_grants(sf_emulator) == 1


@pytest.mark.parametrize("index", range(11))
async def test_a_hostile_instance_url_on_refresh_keeps_the_old_one(
    browser: Browser, app: Any, sf_emulator: Any, client: httpx.AsyncClient, auth: Any, index: int
) -> None:
    assert (await browser.connect()).status_code == 200
    [before] = await rows(app)
    sf_emulator.expire_access_tokens()
    sf_emulator.token_answer_overrides = {
        "instance_url": hostile_instance_urls(sf_emulator.base_url)[index]
    }

    response = await client.get(
        LOOKUP, params={"email": "ana.souza@example.com"}, headers=auth("ws-1", "agent")
    )

    assert response.status_code == 502, response.text
    assert response.json()["code"] == "salesforce_unavailable"
    [after] = await rows(app)
    assert after.instance_url == before.instance_url
    assert after.status == "connected"

    sf_emulator.token_answer_overrides = {}
    again = await client.get(
        LOOKUP, params={"email": "ana.souza@example.com"}, headers=auth("ws-1", "agent")
    )
    assert again.status_code == 200, again.text


NOT_JSON = [
    httpx.Response(200, text="<html>Maintenance</html>", headers={"Content-Type": "text/html"}),
    httpx.Response(200, text="[1, 2", headers={"Content-Type": "application/json"}),
    httpx.Response(200, json=["not", "an", "object"]),
    httpx.Response(200, json={"records": "not a list"}),
]


@pytest.mark.parametrize("answer", NOT_JSON)
async def test_a_rest_answer_that_is_not_json_is_salesforce_unavailable(
    browser: Browser, sf_emulator: Any, client: httpx.AsyncClient, auth: Any, answer: Any
) -> None:
    assert (await browser.connect()).status_code == 200
    with respx.mock(assert_all_called=False) as mock:
        mock.get(url__regex=r".*/services/data/v[0-9.]+/query.*").mock(return_value=answer)
        mock.route().pass_through()
        response = await client.get(
            LOOKUP, params={"email": "ana.souza@example.com"}, headers=auth("ws-1", "agent")
        )
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "salesforce_unavailable"


@pytest.mark.parametrize("answer", NOT_JSON[:3])
async def test_a_token_answer_that_is_not_json_is_salesforce_unavailable(
    browser: Browser, app: Any, sf_emulator: Any, client: httpx.AsyncClient, auth: Any, answer: Any
) -> None:
    assert (await browser.connect()).status_code == 200
    sf_emulator.expire_access_tokens()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(url__regex=r".*/services/oauth2/token").mock(return_value=answer)
        mock.route().pass_through()
        response = await client.get(
            LOOKUP, params={"email": "ana.souza@example.com"}, headers=auth("ws-1", "agent")
        )
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "salesforce_unavailable"
    assert [r.status for r in await rows(app)] == ["connected"]
