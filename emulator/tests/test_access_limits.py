"""API access (org and user), the daily allocation and its two REQUEST_LIMIT_EXCEEDED
forms, and the per-kind call counters, all driven through the admin API."""

from __future__ import annotations

from .helpers import ACME, ACME_SALES, ANA, V, bearer, login

CONTACT = f"{V}/sobjects/Contact"


def test_user_without_api_enabled(client, emu):
    tok = login(client, emu, username="sales@acme.example")
    resp = client.patch(f"/__emulator/orgs/{ACME}/users/{ACME_SALES}", json={"api_enabled": False})
    assert resp.json()["api_enabled"] is False
    denied = client.get(f"{CONTACT}/{ANA}", headers=bearer(tok))
    assert denied.status_code == 403
    assert denied.json() == [
        {"message": "API is disabled for this user", "errorCode": "API_CURRENTLY_DISABLED"}
    ]
    # the identity URL still answers: the login itself is fine
    assert client.get(tok["id"], headers=bearer(tok)).status_code == 200
    # the org's other users keep their access
    admin = login(client, emu)
    assert client.get(f"{CONTACT}/{ANA}", headers=bearer(admin)).status_code == 200


def test_org_without_api_through_admin(client, token):
    client.patch(f"/__emulator/orgs/{ACME}", json={"api_enabled": False})
    resp = client.get(f"{V}/limits", headers=bearer(token))
    assert resp.status_code == 403
    assert resp.json()[0] == {
        "message": "The REST API is not enabled for this Organization.",
        "errorCode": "API_DISABLED_FOR_ORG",
    }


def test_usage_set_through_admin_drives_header_limits_and_exhaustion(client, token):
    resp = client.patch(f"/__emulator/orgs/{ACME}", json={"api_usage": 14990, "api_max": 15000})
    assert resp.json() == {"api_enabled": True, "api_usage": 14990, "api_max": 15000}
    h = bearer(token)
    first = client.get(f"{CONTACT}/{ANA}", headers=h)
    assert first.headers["Sforce-Limit-Info"] == "api-usage=14991/15000"
    limits = client.get(f"{V}/limits", headers=h).json()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 8}
    for _ in range(8):
        assert client.get(f"{V}/limits", headers=h).status_code == 200
    out = client.get(f"{CONTACT}/{ANA}", headers=h)
    assert out.status_code == 403
    assert out.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert out.headers["sforce-limit-info"] == "api-usage=15000/15000"
    orgs = {o["id"]: o for o in client.get("/__emulator/orgs").json()}
    assert orgs[ACME]["api_usage"] == 15000


def test_concurrent_request_limit_fault(client, token):
    client.post(
        "/__emulator/faults",
        json={"org_id": ACME, "fault": "concurrent_limit_exceeded", "count": 1},
    )
    resp = client.get(f"{V}/limits", headers=bearer(token))
    assert resp.status_code == 403
    assert resp.json() == [
        {
            "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
        }
    ]
    assert client.get(f"{V}/limits", headers=bearer(token)).status_code == 200


def test_counters_per_kind_through_admin(client, emu, token):
    client.post("/__emulator/counters/reset")
    h = bearer(token)
    client.get(f"{V}/query", params={"q": "SELECT Id FROM Contact LIMIT 1"}, headers=h)
    client.get(f"{V}/search", params={"q": "FIND {Souza} RETURNING Contact(Id)"}, headers=h)
    client.get(f"{CONTACT}/describe", headers=h)
    client.get(f"{CONTACT}/{ANA}", headers=h)
    client.patch(f"{CONTACT}/{ANA}", json={"Title": "CEO"}, headers=h)
    client.post(CONTACT, json={"LastName": "Counted"}, headers=h)
    client.post(f"{V}/sobjects/Task", json={"Subject": "Call", "WhoId": ANA}, headers=h)
    counters = client.get("/__emulator/counters").json()
    for key in (
        "query",
        "search",
        "describe",
        "contact.get",
        "contact.patch",
        "contact.create",
        "task.create",
    ):
        assert counters[key] == 1, key
    assert counters["api"] == 7
