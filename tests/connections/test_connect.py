"""Connect, reauthorize, refuse: the OAuth web server flow with PKCE, end to end."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, text, update

from app.crypto import sha256_hex
from app.models import Connection, OAuthState
from tests.helpers.browser import (
    ACME_ADMIN,
    ACME_SALES,
    GLOBEX_ADMIN,
    INITECH_ADMIN,
    Browser,
)
from tests.helpers.factories import grant_of

ACME = "00D5g000003GIV7EAO"
GLOBEX = "00D8c000003VlcBEAS"


async def rows(app: Any) -> list[Connection]:
    async with app.state.services.db.transaction() as session:
        return list((await session.scalars(select(Connection))).all())


async def state_rows(app: Any) -> list[OAuthState]:
    async with app.state.services.db.transaction() as session:
        return list((await session.scalars(select(OAuthState))).all())


def assert_problem_page(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert f"Error code: {code}" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_connect_end_to_end(browser: Browser, app: Any, sf_emulator: Any) -> None:
    assert (await browser.status())["status"] == "disconnected"

    response = await browser.connect(return_url="https://app.respond.io/settings/integrations")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Salesforce connected" in page
    assert "Acme Corporation" in page
    assert ACME_ADMIN in page
    assert sf_emulator.base_url in page
    assert 'href="https://app.respond.io/settings/integrations"' in page
    assert response.headers["referrer-policy"] == "no-referrer"

    status = await browser.status()
    assert status["status"] == "connected"
    assert status["organization_id"] == ACME
    assert status["organization_name"] == "Acme Corporation"
    assert status["username"] == ACME_ADMIN
    assert status["user_display_name"]
    assert status["instance_url"] == sf_emulator.base_url
    assert status["environment"] == "production"
    assert set(status["scopes"]) == {"api", "refresh_token", "id"}
    assert status["connected_by"] == "user-1"
    assert status["connected_at"]

    [row] = await rows(app)
    assert row.workspace_id == "ws-1"
    assert row.user_email and row.user_id.startswith("005")
    assert row.webhook_key_hash and row.webhook_key_encrypted
    assert (
        sha256_hex(app.state.services.cipher.decrypt(row.webhook_key_encrypted))
        == row.webhook_key_hash
    )
    # The stored tokens work: a lookup-style call through the token store and client.
    credentials = await app.state.services.tokens.credentials("ws-1")
    assert credentials.organization_id == ACME
    records = await app.state.services.salesforce.query("ws-1", "SELECT Name FROM Organization")
    assert records[0]["Name"] == "Acme Corporation"
    assert sf_emulator.counters["token.authorization_code"] == 1


async def test_authorize_url_carries_state_and_s256_challenge(
    browser: Browser, app: Any, settings: Any
) -> None:
    authorize_url = await browser.start()

    parts = urlsplit(authorize_url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert authorize_url.startswith(settings.salesforce_login_url + "/services/oauth2/authorize?")
    assert params["response_type"] == "code"
    assert params["client_id"] == settings.salesforce_client_id
    assert params["redirect_uri"] == "http://testserver/v1/salesforce/oauth/callback"
    assert params["scope"] == "api refresh_token id"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32
    [pending] = await state_rows(app)
    # Only the hash of the state and the encrypted verifier are stored.
    assert pending.state_hash == sha256_hex(params["state"])
    assert pending.workspace_id == "ws-1" and pending.user_id == "user-1"
    verifier = app.state.services.cipher.decrypt(pending.code_verifier_encrypted)
    assert 43 <= len(verifier) <= 128
    assert verifier not in pending.code_verifier_encrypted
    async with app.state.services.db.transaction() as session:
        ttl = await session.scalar(
            select(func.extract("epoch", OAuthState.expires_at - func.now()))
        )
    assert 590 < float(ttl) <= 600


async def test_reauthorize_same_org_updates_in_place(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    await browser.connect(username=ACME_ADMIN)
    [before] = await rows(app)
    before_grant = await grant_of(app.state.services.db)
    async with app.state.services.db.transaction() as session:
        await session.execute(update(Connection).values(status="reauthorization_required"))
    assert (await browser.status())["status"] == "reauthorization_required"
    sf_emulator.reset_counters()

    response = await browser.connect(username=ACME_SALES, user="user-2")

    assert response.status_code == 200, response.text
    assert "Salesforce access updated" in response.text
    [after] = await rows(app)
    assert after.id == before.id
    assert after.status == "connected"
    assert after.username == ACME_SALES and after.user_id != before.user_id
    assert after.connected_by == "user-2"
    cipher = app.state.services.cipher
    after_grant = await grant_of(app.state.services.db)
    assert before_grant is not None and after_grant is not None
    assert cipher.decrypt(after_grant.access_token_encrypted) != cipher.decrypt(
        before_grant.access_token_encrypted
    )
    assert cipher.decrypt(after_grant.refresh_token_encrypted) != cipher.decrypt(
        before_grant.refresh_token_encrypted
    )
    # The same org again: the webhook key (and the Outbound Message's URL) is kept.
    assert after.webhook_key_hash == before.webhook_key_hash
    # The replaced grant was revoked at Salesforce.
    assert sf_emulator.counters["revoke"] == 1
    assert sf_emulator.refresh_grant(cipher.decrypt(before_grant.refresh_token_encrypted)) is None
    assert (await browser.status())["status"] == "connected"


async def test_a_different_org_is_refused_and_the_old_connection_stays(
    browser: Browser, app: Any
) -> None:
    await browser.connect(username=ACME_ADMIN)
    [before] = await rows(app)
    before_grant = await grant_of(app.state.services.db)

    response = await browser.connect(username=GLOBEX_ADMIN)

    assert_problem_page(response, 409, "salesforce_already_connected")
    assert "Acme Corporation" in response.text
    [after] = await rows(app)
    after_grant = await grant_of(app.state.services.db)
    assert before_grant is not None and after_grant is not None
    assert (after.id, after.organization_id, after_grant.access_token_encrypted) == (
        before.id,
        ACME,
        before_grant.access_token_encrypted,
    )
    assert after.webhook_key_hash == before.webhook_key_hash
    assert (await app.state.services.tokens.credentials("ws-1")).organization_id == ACME
    json_answer = await browser.connect(username=GLOBEX_ADMIN, accept="application/json")
    assert json_answer.status_code == 409
    assert json_answer.json()["code"] == "salesforce_already_connected"


async def test_deny_stores_nothing(browser: Browser, app: Any) -> None:
    redirect = await browser.authorize(await browser.start(), decision="deny")
    assert redirect.params["error"] == "access_denied"

    response = await browser.callback(redirect)

    assert_problem_page(response, 400, "salesforce_access_denied")
    assert "did not allow" in response.text
    assert await rows(app) == []
    # The state is spent too.
    assert all(s.used_at is not None for s in await state_rows(app))


async def test_a_reused_state_is_refused(browser: Browser, app: Any) -> None:
    redirect = await browser.authorize(await browser.start())
    assert (await browser.callback(redirect)).status_code == 200
    before = await grant_of(app.state.services.db)

    again = await browser.callback(redirect)

    assert_problem_page(again, 400, "oauth_state_invalid")
    after = await grant_of(app.state.services.db)
    assert before is not None and after is not None
    assert after.access_token_encrypted == before.access_token_encrypted


async def test_an_expired_state_is_refused(browser: Browser, app: Any) -> None:
    redirect = await browser.authorize(await browser.start())
    async with app.state.services.db.transaction() as session:
        await session.execute(text("UPDATE oauth_states SET expires_at = now() - interval '1s'"))

    response = await browser.callback(redirect)

    assert_problem_page(response, 400, "oauth_state_invalid")
    assert await rows(app) == []


@pytest.mark.parametrize(
    "query", ["?code=abc&state=forged-state-value", "?code=abc", "", "?state="]
)
async def test_a_forged_or_missing_state_is_refused(
    browser: Browser, app: Any, sf_emulator: Any, query: str
) -> None:
    await browser.start()
    response = await browser.callback("/v1/salesforce/oauth/callback" + query)
    assert_problem_page(response, 400, "oauth_state_invalid")
    json_answer = await browser.callback(
        "/v1/salesforce/oauth/callback" + query, accept="application/json"
    )
    assert json_answer.status_code == 400
    assert json_answer.headers["content-type"].startswith("application/problem+json")
    assert json_answer.json()["code"] == "oauth_state_invalid"
    assert await rows(app) == []
    assert sf_emulator.counters["token.authorization_code"] == 0


@pytest.mark.parametrize("state", [None, "forged-state-value", ""])
async def test_an_error_without_a_valid_state_shows_none_of_its_text(
    browser: Browser, app: Any, state: str | None
) -> None:
    """Anyone can link to the callback with an `error_description` of their choosing: without
    a valid state it is a plain "invalid link" page, never that text on our domain."""
    await browser.start()
    query = "error=invalid_request&error_description=Call+support+at+evil.example+now"
    if state is not None:
        query += f"&state={state}"
    for accept in ("text/html", "application/json"):
        response = await browser.callback(f"/v1/salesforce/oauth/callback?{query}", accept=accept)
        assert response.status_code == 400, response.text
        assert "evil.example" not in response.text
        assert "invalid_request" not in response.text
        if accept == "text/html":
            assert_problem_page(response, 400, "oauth_state_invalid")
        else:
            assert response.json()["code"] == "oauth_state_invalid"
    assert await rows(app) == []


async def _state_of(browser: Browser) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(await browser.start()).query)["state"][0]


async def test_an_error_with_a_valid_state_shows_the_code_but_none_of_the_text(
    browser: Browser, app: Any
) -> None:
    """Even with a valid state, the page on our domain shows Salesforce's error code and a
    fixed explanation, not the `error_description` of the query (a link's author may have
    chosen it); the API answer keeps Salesforce's text (contract 10.11)."""
    query = "error=invalid_request&error_description=Call+support+at+evil.example+now"
    page = await browser.callback(
        f"/v1/salesforce/oauth/callback?{query}&state={await _state_of(browser)}"
    )
    assert_problem_page(page, 400, "salesforce_authorization_failed")
    assert "evil.example" not in page.text
    assert "Call support" not in page.text
    assert "invalid_request" in page.text

    answer = await browser.callback(
        f"/v1/salesforce/oauth/callback?{query}&state={await _state_of(browser)}",
        accept="application/json",
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "salesforce_authorization_failed"
    assert "Call support at evil.example now" in answer.json()["detail"]
    assert await rows(app) == []


async def test_an_org_without_api_access_gets_an_explanation(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    response = await browser.connect(username=INITECH_ADMIN)

    assert_problem_page(response, 403, "salesforce_api_disabled")
    assert "must have API access" in response.text
    assert "Salesforce administrator" in response.text
    assert await rows(app) == []
    # The grant we could not use was handed back.
    assert sf_emulator.counters["revoke"] == 1


async def test_a_failed_token_exchange_is_a_502_page(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    redirect = await browser.authorize(await browser.start())

    response = await browser.callback(redirect.with_params(code="not-a-real-code"))

    assert_problem_page(response, 502, "salesforce_unavailable")
    assert "invalid authorization code" in response.text
    assert await rows(app) == []
    assert sf_emulator.counters["token.authorization_code"] == 1


async def test_the_pkce_verifier_is_required(browser: Browser, app: Any) -> None:
    redirect = await browser.authorize(await browser.start())
    async with app.state.services.db.transaction() as session:
        await session.execute(
            update(OAuthState).values(
                code_verifier_encrypted=app.state.services.cipher.encrypt("x" * 64)
            )
        )

    response = await browser.callback(redirect)

    assert_problem_page(response, 502, "salesforce_unavailable")
    assert "invalid code verifier" in response.text
    assert await rows(app) == []


async def test_two_workspaces_may_connect_the_same_org(browser: Browser, app: Any) -> None:
    assert (await browser.connect("ws-1")).status_code == 200
    assert (await browser.connect("ws-2")).status_code == 200

    one, two = await browser.status("ws-1"), await browser.status("ws-2")
    assert one["organization_id"] == two["organization_id"] == ACME
    connections = await rows(app)
    assert len(connections) == 2
    assert len({c.id for c in connections}) == 2
    assert len({c.webhook_key_hash for c in connections}) == 2


async def test_json_callback_returns_the_connection_object(browser: Browser) -> None:
    response = await browser.connect(accept="application/json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == await browser.status()
    assert body["status"] == "connected" and body["organization_name"] == "Acme Corporation"
    assert "access_token" not in response.text


@pytest.mark.parametrize("role", ["owner", "manager"])
async def test_owners_and_managers_may_connect(browser: Browser, role: str) -> None:
    assert (await browser.start(role=role)).startswith("http")


async def test_agents_may_not_connect_or_disconnect(browser: Browser) -> None:
    response = await browser.client.post(
        "/v1/workspaces/ws-1/salesforce/connect", json={}, headers=browser.auth("ws-1", "agent")
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    response = await browser.disconnect(role="agent")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert (await browser.status(role="agent"))["status"] == "disconnected"


async def test_another_workspaces_token_is_refused(browser: Browser) -> None:
    response = await browser.client.post(
        "/v1/workspaces/ws-1/salesforce/connect", json={}, headers=browser.auth("ws-2", "owner")
    )
    assert response.status_code == 403
    response = await browser.client.get(
        "/v1/workspaces/ws-1/salesforce/connection", headers=browser.auth("ws-2", "owner")
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body,field",
    [
        ({"return_url": "https://evil.example/after"}, "return_url"),
        ({"return_url": "https://app.respond.io.evil.example/"}, "return_url"),
        ({"return_url": "javascript:alert(1)"}, "return_url"),
        ({"return_url": "http://app.respond.io/insecure"}, "return_url"),
        ({"my_domain": "acme.evil.example"}, "my_domain"),
        ({"my_domain": "acme.my.salesforce.com.evil.example"}, "my_domain"),
        ({"my_domain": "https://acme.my.salesforce.com/path"}, "my_domain"),
        ({"environment": "staging"}, "environment"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_connect_validates_its_body(
    browser: Browser, app: Any, body: dict[str, Any], field: str
) -> None:
    response = await browser.client.post(
        "/v1/workspaces/ws-1/salesforce/connect", json=body, headers=browser.auth()
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert await state_rows(app) == []


async def test_my_domain_and_sandbox_choose_the_login_host(
    browser: Browser, app: Any, settings: Any
) -> None:
    url = await browser.start(my_domain="acme.my.salesforce.com")
    assert url.startswith("https://acme.my.salesforce.com/services/oauth2/authorize?")
    url = await browser.start(my_domain="https://acme--uat.sandbox.my.salesforce.com")
    assert url.startswith("https://acme--uat.sandbox.my.salesforce.com/services/oauth2/authorize?")
    url = await browser.start(environment="sandbox")
    assert url.startswith(settings.salesforce_sandbox_login_url + "/services/oauth2/authorize?")
    pending = {s.login_url: s.environment for s in await state_rows(app)}
    assert pending["https://acme.my.salesforce.com"] == "production"
    assert "sandbox" in pending.values()


async def test_connect_without_a_body(browser: Browser) -> None:
    response = await browser.client.post(
        "/v1/workspaces/ws-1/salesforce/connect", headers=browser.auth()
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"authorize_url", "expires_at", "admin_guidance"}


async def test_the_routes_declare_their_errors_in_openapi(app: Any) -> None:
    paths = app.openapi()["paths"]
    connect = paths["/v1/workspaces/{workspace_id}/salesforce/connect"]["post"]["responses"]
    assert {"401", "403", "422"} <= set(connect)
    callback = paths["/v1/salesforce/oauth/callback"]["get"]["responses"]
    assert {"400", "403", "409", "502"} <= set(callback)
    assert "oauth_state_invalid" in callback["400"]["description"]
    assert "text/html" in callback["200"]["content"]
    connection = paths["/v1/workspaces/{workspace_id}/salesforce/connection"]
    assert {"401", "403"} <= set(connection["get"]["responses"])
    assert "204" in connection["delete"]["responses"]
