"""Connected-app strictness: registered callback URLs, required PKCE, token endpoint
errors on demand, idle refresh-token expiry on the emulator's clock, inactive users."""

from __future__ import annotations

import pytest

from .helpers import ACME, ACME_SALES, REDIRECT, V, authorize, bearer, code_from, login, refresh

TOKEN = "/services/oauth2/token"


def test_unregistered_redirect_uri_is_refused_on_the_login_host(client, emu):
    page = client.get(
        "/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": emu.client_id,
            "redirect_uri": "https://evil.example/cb",
            "code_challenge": "x" * 43,
        },
    )
    # Never redirected to an untrusted URL: an error page on the login host.
    assert page.status_code == 400 and "location" not in page.headers
    assert "error=redirect_uri_mismatch" in page.text
    # Registered through the admin API, the same URL works.
    resp = client.put(
        "/__emulator/connected-app", json={"add_callback_urls": ["https://evil.example/cb"]}
    )
    assert "https://evil.example/cb" in resp.json()["callback_urls"]
    ok = authorize(client, emu.client_id, redirect_uri="https://evil.example/cb")
    assert ok.headers["location"].startswith("https://evil.example/cb?code=")


def test_pkce_is_required_by_default_and_can_be_relaxed(client, emu):
    resp = authorize(client, emu.client_id, pkce=False, state="s9")
    assert resp.status_code == 302
    loc = resp.headers["location"]
    assert loc.startswith(REDIRECT + "?error=invalid_request")
    assert "missing+required+code+challenge" in loc and "state=s9" in loc
    assert client.get("/__emulator/connected-app").json()["require_pkce"] is True
    client.put("/__emulator/connected-app", json={"require_pkce": False})
    code = code_from(authorize(client, emu.client_id, pkce=False))
    tok = client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "redirect_uri": REDIRECT,
        },
    )
    assert tok.status_code == 200


def test_code_without_challenge_is_refused_when_pkce_becomes_required(client, emu):
    client.put("/__emulator/connected-app", json={"require_pkce": False})
    code = code_from(authorize(client, emu.client_id, pkce=False))
    client.put("/__emulator/connected-app", json={"require_pkce": True})
    tok = client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "redirect_uri": REDIRECT,
        },
    )
    assert tok.status_code == 400 and tok.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("fault", "body"),
    [
        (
            "expired",
            {"error": "invalid_grant", "error_description": "expired access/refresh token"},
        ),
        (
            "ip_restricted",
            {"error": "invalid_grant", "error_description": "ip restricted or invalid login hours"},
        ),
        ("inactive_user", {"error": "inactive_user", "error_description": "user is inactive"}),
        (
            "inactive_org",
            {"error": "inactive_org", "error_description": "organization is inactive"},
        ),
        (
            "rate_limit_exceeded",
            {"error": "rate_limit_exceeded", "error_description": "rate limit exceeded"},
        ),
        (
            "invalid_client_id",
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            "invalid_client",
            {"error": "invalid_client", "error_description": "invalid client credentials"},
        ),
    ],
)
def test_token_faults_on_demand(client, emu, token, fault, body):
    resp = client.post(
        "/__emulator/token-faults", json={"fault": fault, "grant_type": "refresh_token", "count": 1}
    )
    assert resp.status_code == 201
    bad = refresh(client, emu, token["refresh_token"])
    assert (bad.status_code, bad.json()) == (400, body)
    assert refresh(client, emu, token["refresh_token"]).status_code == 200  # count was 1
    assert emu.counters["token.refresh_token"] == 2


def test_custom_token_fault_until_cleared(client, emu, token):
    client.post(
        "/__emulator/token-faults",
        json={"error": "invalid_grant", "error_description": "authentication failure"},
    )
    for _ in range(2):
        assert refresh(client, emu, token["refresh_token"]).json() == {
            "error": "invalid_grant",
            "error_description": "authentication failure",
        }
    assert client.delete("/__emulator/token-faults").status_code == 204
    assert refresh(client, emu, token["refresh_token"]).status_code == 200


def test_idle_refresh_token_dies_after_the_configured_days(client, emu, token):
    assert client.get("/__emulator/settings").json()["refresh_token_idle_days"] == 30
    client.post("/__emulator/clock", json={"advance_days": 29})
    assert refresh(client, emu, token["refresh_token"]).status_code == 200  # used: idle resets
    client.post("/__emulator/clock", json={"advance_days": 29})
    assert refresh(client, emu, token["refresh_token"]).status_code == 200
    client.put("/__emulator/settings", json={"refresh_token_idle_days": 7})
    client.post("/__emulator/clock", json={"advance_days": 8})
    dead = refresh(client, emu, token["refresh_token"])
    assert (dead.status_code, dead.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "expired access/refresh token"},
    )
    client.post("/__emulator/clock", json={"reset": True})
    assert refresh(client, emu, token["refresh_token"]).status_code == 400  # stays dead


def test_clock_moves_access_token_expiry_too(client, emu, token):
    assert client.get(f"{V}/limits", headers=bearer(token)).status_code == 200
    now = client.post("/__emulator/clock", json={"advance_seconds": 2 * 3600 + 1}).json()
    assert now["offset_seconds"] >= 7201
    assert client.get(f"{V}/limits", headers=bearer(token)).status_code == 401
    assert client.post("/__emulator/clock", json={"advance_seconds": -5}).status_code == 400


def test_deactivated_user_cannot_refresh(client, emu):
    tok = login(client, emu, username="sales@acme.example")
    client.patch(f"/__emulator/orgs/{ACME}/users/{ACME_SALES}", json={"active": False})
    resp = refresh(client, emu, tok["refresh_token"])
    assert resp.json() == {"error": "inactive_user", "error_description": "user is inactive"}


def test_login_page_css_is_real_css(client, emu):
    page = client.get(
        "/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": emu.client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": "x" * 43,
        },
    )
    style = page.text.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "{{" not in style and "}}" not in style
    assert "body{" in style and "button{" in style
