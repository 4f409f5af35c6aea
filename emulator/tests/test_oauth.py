from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlparse

import httpx

from emulator.salesforce import SalesforceEmulator

from .helpers import (
    ACME,
    ACME_ADMIN,
    REDIRECT,
    V,
    authorize,
    bearer,
    code_from,
    login,
    pkce_pair,
    refresh,
)


def _exchange(client, emu, code, verifier, **over):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **over,
    }
    return client.post("/services/oauth2/token", data=data)


def test_authorize_page_is_a_login_and_allow_form(client, emu):
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": emu.client_id,
        "redirect_uri": REDIRECT,
        "state": "abc",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": "admin@acme.example",
    }
    page = client.get("/services/oauth2/authorize", params=params)
    assert page.status_code == 200
    html = page.text
    assert "name='username'" in html and "name='password'" in html
    assert "name='decision' value='allow'" in html and "name='decision' value='deny'" in html
    assert f"value='{challenge}'" in html and "value='admin@acme.example'" in html


def test_authorize_unknown_client_is_an_error_page(client):
    page = client.get(
        "/services/oauth2/authorize",
        params={"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT},
    )
    assert page.status_code == 400
    assert "invalid_client_id" in page.text


def test_wrong_password_rerenders_form(client, emu):
    resp = authorize(client, emu.client_id, password="wrong")
    assert resp.status_code == 200
    assert "Please check your username and password" in resp.text


def test_deny_redirects_with_access_denied(client, emu):
    resp = authorize(client, emu.client_id, decision="deny", state="s1")
    assert resp.status_code == 302
    loc = resp.headers["location"]
    assert loc.startswith(REDIRECT + "?")
    assert "error=access_denied" in loc
    assert "error_description=end-user+denied+authorization" in loc
    assert "state=s1" in loc


def test_code_exchange_with_pkce(client, emu):
    verifier, challenge = pkce_pair()
    resp = authorize(client, emu.client_id, challenge=challenge, state="xyz")
    assert parse_qs(urlparse(resp.headers["location"]).query)["state"] == ["xyz"]
    tok = _exchange(client, emu, code_from(resp), verifier)
    assert tok.status_code == 200
    body = tok.json()
    assert list(body) == [
        "access_token",
        "refresh_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    ]
    assert "expires_in" not in body
    assert body["access_token"].startswith(ACME[:15] + "!AR")
    assert body["refresh_token"].startswith("5Aep861")
    assert body["instance_url"] == emu.base_url
    assert body["id"] == f"{emu.base_url}/id/{ACME}/{ACME_ADMIN}"
    assert body["token_type"] == "Bearer" and body["issued_at"].isdigit()
    expected = hmac.new(
        emu.client_secret.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256
    ).digest()
    assert base64.b64decode(body["signature"]) == expected
    assert emu.counters["token.authorization_code"] == 1


def test_bad_verifier_and_reused_code(client, emu):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(client, emu.client_id, challenge=challenge))
    bad = _exchange(client, emu, code, "x" * 50)
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_grant", "error_description": "invalid code verifier"}
    assert _exchange(client, emu, code, verifier).status_code == 200
    again = _exchange(client, emu, code, verifier)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "invalid authorization code",
    }


def test_expired_code_and_redirect_mismatch(client, emu):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(client, emu.client_id, challenge=challenge))
    assert _exchange(client, emu, code, verifier, redirect_uri="https://evil.example/cb").json()[
        "error"
    ] == ("redirect_uri_mismatch")
    emu.codes[code].expires_at = 0
    resp = _exchange(client, emu, code, verifier)
    assert resp.json()["error_description"] == "expired authorization code"


def test_client_authentication(client, emu):
    verifier, challenge = pkce_pair()
    code = code_from(authorize(client, emu.client_id, challenge=challenge))
    wrong = _exchange(client, emu, code, verifier, client_secret="nope")
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }
    # client_secret_basic (how authlib may authenticate) works too
    resp = client.post(
        "/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(emu.client_id, emu.client_secret),
    )
    assert resp.status_code == 200
    other = client.post("/services/oauth2/token", data={"grant_type": "password"})
    assert other.json()["error"] == "unsupported_grant_type"


def test_refresh_without_rotation(client, emu):
    tok = login(client, emu)
    resp = refresh(client, emu, tok["refresh_token"])
    assert resp.status_code == 200
    body = resp.json()
    assert "refresh_token" not in body
    assert set(body) == {
        "access_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }
    assert body["access_token"] != tok["access_token"]
    assert client.get(f"{V}/limits", headers=bearer(body)).status_code == 200
    # the same refresh token keeps working
    assert refresh(client, emu, tok["refresh_token"]).status_code == 200
    assert emu.counters["token.refresh_token"] == 2


def test_rotation_and_reuse_revokes_grant(client, emu):
    emu.rotate_refresh_tokens = True
    tok = login(client, emu)
    first = refresh(client, emu, tok["refresh_token"]).json()
    assert first["refresh_token"] != tok["refresh_token"]
    second = refresh(client, emu, first["refresh_token"]).json()
    assert client.get(f"{V}/limits", headers=bearer(second)).status_code == 200
    # reusing the rotated-out token: invalid_grant and the whole grant is gone
    reuse = refresh(client, emu, tok["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    assert refresh(client, emu, second["refresh_token"]).status_code == 400
    assert client.get(f"{V}/limits", headers=bearer(second)).status_code == 401


def test_revoke(client, emu):
    tok = login(client, emu)
    other = refresh(client, emu, tok["refresh_token"]).json()
    # revoking one access token ends only it
    assert client.post("/services/oauth2/revoke", data={"token": tok["access_token"]}).text == ""
    assert client.get(f"{V}/limits", headers=bearer(tok)).status_code == 401
    assert client.get(f"{V}/limits", headers=bearer(other)).status_code == 200
    # revoking the refresh token ends the grant
    resp = client.post("/services/oauth2/revoke", data={"token": tok["refresh_token"]})
    assert resp.status_code == 200
    assert client.get(f"{V}/limits", headers=bearer(other)).status_code == 401
    assert refresh(client, emu, tok["refresh_token"]).json()["error"] == "invalid_grant"
    unknown = client.post("/services/oauth2/revoke", data={"token": "nope"})
    assert unknown.status_code == 400
    assert unknown.json() == {
        "error": "unsupported_token_type",
        "error_description": "this token type is not supported",
    }


def test_identity_and_userinfo(client, emu, token):
    ident = client.get(token["id"], headers=bearer(token))
    assert ident.status_code == 200
    body = ident.json()
    assert body["user_id"] == ACME_ADMIN and body["organization_id"] == ACME
    assert body["username"] == "admin@acme.example" and body["display_name"] == "Alex Morgan"
    assert body["urls"]["rest"] == f"{emu.base_url}/services/data/v{{version}}/"
    assert body["urls"]["query"].endswith("/services/data/v{version}/query/")
    for key in ("enterprise", "partner", "sobjects", "search", "custom_domain", "feed_elements"):
        assert key in body["urls"]
    info = client.get("/services/oauth2/userinfo", headers=bearer(token)).json()
    assert info["sub"] == token["id"] and info["preferred_username"] == "admin@acme.example"
    assert info["organization_id"] == ACME and info["user_id"] == ACME_ADMIN
    bad = client.get(token["id"], headers=bearer("00Dxx!bogus"))
    assert (bad.status_code, bad.text) == (403, "Bad_OAuth_Token")
    assert client.get(token["id"]).text == "Missing_OAuth_Token"
    assert emu.counters["identity"] == 3 and emu.counters["userinfo"] == 1


def test_expire_access_tokens_then_refresh(client, emu, token):
    emu.expire_access_tokens()
    resp = client.get(f"{V}/limits", headers=bearer(token))
    assert resp.status_code == 401
    assert resp.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    fresh = refresh(client, emu, token["refresh_token"]).json()
    assert client.get(f"{V}/limits", headers=bearer(fresh)).status_code == 200
    emu.revoke_grants(ACME)
    assert refresh(client, emu, token["refresh_token"]).json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }


def test_api_disabled_org_can_log_in_but_not_call_rest(client, emu: SalesforceEmulator):
    tok = login(client, emu, username="admin@initech.example")
    assert client.get(tok["id"], headers=bearer(tok)).status_code == 200
    resp = client.get(f"{V}/query", params={"q": "SELECT Id FROM Contact"}, headers=bearer(tok))
    assert resp.status_code == 403
    assert resp.json()[0]["errorCode"] == "API_DISABLED_FOR_ORG"
    assert resp.json()[0]["message"] == "The REST API is not enabled for this Organization."


def test_scope_without_refresh_token_gives_no_refresh_token(client, emu):
    tok = login(client, emu, scope="api id")
    assert "refresh_token" not in tok and tok["scope"] == "api id"


def test_introspect(client, emu, token):
    resp = client.post(
        "/services/oauth2/introspect",
        data={"token": token["access_token"]},
        auth=httpx.BasicAuth(emu.client_id, emu.client_secret),
    )
    assert resp.json()["active"] is True and resp.json()["username"] == "admin@acme.example"
