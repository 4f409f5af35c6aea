"""Enterprise orgs at the login host: the client credentials flow of an External Client App
with a run-as user, the five approvals an app keeps per user, and the error page a user
without "Approve Uninstalled Connected Apps" sees for an app not installed in the org."""

from __future__ import annotations

from .helpers import ACME, ACME_SALES, GLOBEX, REDIRECT, V, authorize, bearer, login, refresh

TOKEN = "/services/oauth2/token"


def cc_app(client, **body):
    response = client.post("/__emulator/client-credentials-apps", json={"org_id": ACME, **body})
    assert response.status_code == 201, response.text
    return response.json()


def cc_token(client, app, secret=None):
    return client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"] if secret is None else secret,
        },
    )


def test_client_credentials_give_a_token_of_the_run_as_user_without_refresh_token(client, emu):
    app = cc_app(client, run_as="sales@acme.example")
    answer = cc_token(client, app)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "refresh_token" not in body
    assert body["id"].endswith(f"/id/{ACME}/{ACME_SALES}")
    assert body["token_type"] == "Bearer" and body["instance_url"] == emu.base_url
    ident = client.get(body["id"], headers=bearer(body))
    assert ident.json()["username"] == "sales@acme.example"
    rows = client.get(f"{V}/query", params={"q": "SELECT Id FROM Contact"}, headers=bearer(body))
    assert rows.status_code == 200
    assert emu.counters["token.client_credentials"] == 1


def test_client_credentials_refusals_are_salesforces(client, emu):
    app = cc_app(client)
    wrong = cc_token(client, app, secret="not-the-secret")
    assert (wrong.status_code, wrong.json()) == (
        400,
        {"error": "invalid_client", "error_description": "invalid client credentials"},
    )
    # The token endpoint requires the secret: none at all is refused the same way.
    missing = client.post(
        TOKEN, data={"grant_type": "client_credentials", "client_id": app["client_id"]}
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_client"
    unknown = cc_token(client, {"client_id": "3MVG9nobody", "client_secret": "x"})
    assert unknown.json()["error"] == "invalid_client_id"
    client.patch(f"/__emulator/client-credentials-apps/{app['client_id']}", json={"enabled": False})
    off = cc_token(client, app)
    assert off.status_code == 400
    assert off.json() == {
        "error": "invalid_grant",
        "error_description": "no client credentials user enabled",
    }
    no_user = cc_app(client, run_as=None)
    assert cc_token(client, no_user).json()["error_description"] == (
        "no client credentials user enabled"
    )


def test_run_as_user_without_api_gets_a_token_and_rest_refuses(client, emu):
    client.patch(f"/__emulator/orgs/{ACME}/users/{ACME_SALES}", json={"api_enabled": False})
    app = cc_app(client, run_as=ACME_SALES)
    token = cc_token(client, app).json()
    rows = client.get(f"{V}/query", params={"q": "SELECT Id FROM Contact"}, headers=bearer(token))
    assert rows.status_code == 403


def test_rotated_secret_refuses_the_old_one(client, emu):
    app = cc_app(client)
    client.patch(
        f"/__emulator/client-credentials-apps/{app['client_id']}", json={"client_secret": "new"}
    )
    assert cc_token(client, app).json()["error"] == "invalid_client"
    assert cc_token(client, app, secret="new").status_code == 200


def test_sixth_approval_revokes_the_oldest(client, emu):
    grants = [login(client, emu) for _ in range(6)]
    assert refresh(client, emu, grants[0]["refresh_token"]).json()["error"] == "invalid_grant"
    for grant in grants[1:]:
        assert refresh(client, emu, grant["refresh_token"]).status_code == 200
    assert emu.counters["approval_limit.revoked"] == 1
    # Another user's approvals and client credentials tokens do not count.
    client.patch(f"/__emulator/orgs/{ACME}", json={"connected_app_installed": True})
    login(client, emu, username="sales@acme.example")
    assert refresh(client, emu, grants[1]["refresh_token"]).status_code == 200


def test_approval_limit_is_a_switch(client, emu):
    client.patch(f"/__emulator/orgs/{ACME}", json={"approval_limit": None})
    grants = [login(client, emu) for _ in range(7)]
    assert refresh(client, emu, grants[0]["refresh_token"]).status_code == 200


def test_uninstalled_app_shows_salesforces_page_and_never_calls_back(client, emu):
    # Globex has not installed the app; its admin may approve uninstalled apps.
    assert authorize(client, emu.client_id, username="admin@globex.example").status_code == 302
    client.patch(
        f"/__emulator/orgs/{GLOBEX}/users/0058c00000052ICAAY",
        json={"approve_uninstalled_apps": False},
    )
    answer = authorize(client, emu.client_id, username="admin@globex.example")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert not location.startswith(REDIRECT)
    assert "/setup/secur/RemoteAccessErrorPage.apexp?error=invalid_client" in location
    assert "app+must+be+installed+into+org" in location
    page = client.get(location)
    assert page.status_code == 200 and "app must be installed into org" in page.text
    # Once an admin installs the app, the same user may authorize it.
    client.patch(f"/__emulator/orgs/{GLOBEX}", json={"connected_app_installed": True})
    again = authorize(client, emu.client_id, username="admin@globex.example")
    assert again.headers["location"].startswith(REDIRECT + "?code=")
