"""The respond.io emulator over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest

from emulator.respondio import RespondioEmulator, create_app
from emulator.server import start_in_thread

from .respondio_fixtures import TOKEN, _server, admin, api, state

OTHER = "token-b"
PHONE = "+60123456789"


def path(identifier: str) -> str:
    return "/contact/" + quote(identifier, safe="")


def test_create_then_get(api: Callable, state: RespondioEmulator) -> None:
    body = {
        "firstName": "Ann",
        "lastName": "Lee",
        "email": "ann@example.com",
        "language": "en",
        "countryCode": "MY",
        "custom_fields": [{"name": "salesforce_id", "value": "003A"}],
    }
    created = api().post(path(f"phone:{PHONE}"), json=body)
    assert created.status_code == 200
    assert created.json() == {"code": 200, "message": "Contact added successfully!"}

    (stored,) = state.contacts(TOKEN)
    assert stored["phone"] == PHONE  # taken from the identifier
    assert {k: stored[k] for k in ("firstName", "lastName", "email", "language")} == {
        "firstName": "Ann",
        "lastName": "Lee",
        "email": "ann@example.com",
        "language": "en",
    }
    for identifier in (f"phone:{PHONE}", "email:ANN@example.com", f"id:{stored['id']}"):
        got = api().get(path(identifier))
        assert got.status_code == 200
        assert got.json() == stored
    assert set(stored) >= {"id", "custom_fields", "tags", "lifecycle", "created_at", "status"}
    assert state.counters["contact.create"] == 1
    assert state.counters["contact.get"] == 3


def test_unencoded_identifier_works_too(api: Callable, state: RespondioEmulator) -> None:
    assert api().post(f"/contact/phone:{PHONE}", json={"firstName": "A"}).status_code == 200
    assert api().get(f"/contact/phone:{PHONE}").json()["phone"] == PHONE


def test_get_unknown_is_404_json(api: Callable, state: RespondioEmulator) -> None:
    response = api().get(path("email:none@example.com"))
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Contact not found"}
    assert state.counters["404"] == 1


def test_duplicate_create_is_refused(api: Callable, state: RespondioEmulator) -> None:
    assert api().post(path("email:a@example.com"), json={"firstName": "A"}).status_code == 200
    again = api().post(path("email:A@example.com"), json={"firstName": "B"})
    assert again.status_code == 409
    assert again.json()["message"] == "Contact already exists"
    (stored,) = state.contacts(TOKEN)
    assert stored["firstName"] == "A"


@pytest.mark.parametrize(
    ("identifier", "body"),
    [
        ("id:5", {"firstName": "A"}),
        ("email:a@example.com", {"lastName": "no first name"}),
        ("email:not-an-email", {"firstName": "A"}),
        ("phone:60123456789", {"firstName": "A"}),
        ("name:ann", {"firstName": "A"}),
    ],
)
def test_create_validation(
    api: Callable, state: RespondioEmulator, identifier: str, body: dict
) -> None:
    response = api().post(path(identifier), json=body)
    assert response.status_code == 400
    assert response.json()["message"]
    assert state.contacts(TOKEN) == []


def test_create_or_update(api: Callable, state: RespondioEmulator) -> None:
    first = api().post(
        "/contact/create_or_update/" + quote("email:c@example.com", safe=""),
        json={"firstName": "Cy", "custom_fields": [{"name": "a", "value": "1"}]},
    )
    assert first.status_code == 200
    contact_id = first.json()["contactId"]
    second = api().post(
        "/contact/create_or_update/" + quote("email:c@example.com", safe=""),
        json={"lastName": "Ng", "custom_fields": [{"name": "a", "value": "2"}]},
    )
    assert second.json() == {"contactId": contact_id}
    (stored,) = state.contacts(TOKEN)
    assert (stored["firstName"], stored["lastName"]) == ("Cy", "Ng")
    assert stored["custom_fields"] == [{"name": "a", "value": "2"}]
    assert state.counters["contact.create_or_update"] == 2
    assert state.counters["contact.created"] == 1
    missing = api().post("/contact/create_or_update/id:999", json={"firstName": "X"})
    assert missing.status_code == 404


def test_lookups_follow_identifier_changes_and_answer_the_oldest(
    api: Callable, state: RespondioEmulator
) -> None:
    client = api()
    upsert = "/contact/create_or_update/"
    first = client.post(upsert + quote("email:old@example.com", safe=""), json={"firstName": "A"})
    first_id = first.json()["contactId"]
    # An update that changes the email: the contact is found by the new one only.
    client.post(upsert + f"id:{first_id}", json={"email": "New@Example.com", "phone": PHONE})
    assert client.get(path("email:old@example.com")).status_code == 404
    assert client.get(path("email:new@example.COM")).json()["id"] == first_id
    assert client.get(path(f"phone:{PHONE}")).json()["id"] == first_id
    # A second contact created by phone with the same email: the oldest one answers.
    second = client.post(
        upsert + quote("phone:+60111111111", safe=""),
        json={"firstName": "B", "email": "new@example.com"},
    )
    second_id = second.json()["contactId"]
    assert second_id != first_id
    assert client.get(path("email:new@example.com")).json()["id"] == first_id
    client.post(upsert + f"id:{first_id}", json={"email": "moved@example.com"})
    assert client.get(path("email:new@example.com")).json()["id"] == second_id
    assert client.post(path("email:moved@example.com"), json={"firstName": "C"}).status_code == 409
    state.reset()
    assert client.get(path("email:moved@example.com")).status_code == 404


def test_concurrent_create_or_update_makes_one_contact(
    api: Callable, state: RespondioEmulator
) -> None:
    client = api()

    def upsert(i: int) -> int:
        response = client.post(
            "/contact/create_or_update/" + quote(f"phone:{PHONE}", safe=""),
            json={"firstName": f"P{i}"},
        )
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(upsert, range(24))) == {200}
    assert len(state.contacts(TOKEN)) == 1
    assert state.counters["contact.created"] == 1


def test_tags(api: Callable, state: RespondioEmulator) -> None:
    api().post(path(f"phone:{PHONE}"), json={"firstName": "T"})
    tagged = api().post(path(f"phone:{PHONE}") + "/tag", json=["Auto-created: Salesforce"])
    assert tagged.status_code == 200
    (stored,) = state.contacts(TOKEN)
    assert tagged.json() == {"contactId": stored["id"]}
    api().post(path(f"phone:{PHONE}") + "/tag", json=["Auto-created: Salesforce", "x"])
    assert state.contacts(TOKEN)[0]["tags"] == ["Auto-created: Salesforce", "x"]
    assert state.counters["contact.tag"] == 2
    assert api().post(path("email:no@example.com") + "/tag", json=["x"]).status_code == 404
    assert api().post(path(f"phone:{PHONE}") + "/tag", json=[]).status_code == 400
    assert api().post(path(f"phone:{PHONE}") + "/tag", json={"tag": "x"}).status_code == 400


def test_auth_and_workspaces(api: Callable, state: RespondioEmulator) -> None:
    assert api(None).get(path("id:1")).status_code == 401
    for header in ("Bearer", "Basic dXNlcjpwYXNz"):
        response = api(None).get(path("id:1"), headers={"Authorization": header})
        assert response.status_code == 401
        assert response.json()["code"] == 401
    api(TOKEN).post(path("email:w@example.com"), json={"firstName": "W"})
    assert api(OTHER).get(path("email:w@example.com")).status_code == 404
    assert state.contacts(OTHER) == []
    assert state.counters["401"] == 3


def test_token_allowlist() -> None:
    state = RespondioEmulator(allowed_tokens=[TOKEN])
    running = start_in_thread(create_app(state))
    try:
        base = running.url + "/v2"
        ok = httpx.get(base + path("id:1"), headers={"Authorization": f"Bearer {TOKEN}"})
        bad = httpx.get(base + path("id:1"), headers={"Authorization": f"Bearer {OTHER}"})
        assert (ok.status_code, bad.status_code) == (404, 401)
    finally:
        running.stop()


def test_rate_limit_per_token(api: Callable, state: RespondioEmulator) -> None:
    state.configure(rate_limit_per_second=2)
    client = api(TOKEN)
    # A burst as large as the rate passes; the next call within the refill time is refused.
    assert [client.get(path("id:1")).status_code for _ in range(2)] == [404, 404]
    limited = client.get(path("id:1"))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Limit"] == "2"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.json() == {"code": 429, "message": "Too Many Requests"}
    # Another workspace has its own budget.
    assert api(OTHER).get(path("id:1")).status_code == 404
    assert state.counters["429"] == 1
    assert [r.status for r in state.requests(TOKEN)] == [404, 404, 429]


def test_rate_limit_below_one_per_second_still_admits(
    api: Callable, state: RespondioEmulator
) -> None:
    state.configure(rate_limit_per_second=0.5)
    assert api().get(path("id:1")).status_code == 404
    assert api().get(path("id:1")).status_code == 429


def test_fail_next(api: Callable, state: RespondioEmulator) -> None:
    state.fail_next(2, status=503)
    state.fail_next(1, status=429, retry_after=7)
    client = api()
    assert [client.get(path("id:1")).status_code for _ in range(2)] == [503, 503]
    limited = client.get(path("id:1"))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert client.get(path("id:1")).status_code == 404
    assert state.counters["503"] == 2 and state.counters["429"] == 1
    with pytest.raises(ValueError):
        state.fail_next(1, status=404)


def test_outage(api: Callable, state: RespondioEmulator, admin: httpx.Client) -> None:
    state.configure(outage=True)
    assert api().get(path("id:1")).status_code == 503
    assert api().post(path("email:o@example.com"), json={"firstName": "O"}).status_code == 503
    assert admin.get("/counters").json()["503"] == 2
    state.configure(outage=False)
    assert api().get(path("id:1")).status_code == 404


def test_admin_http(api: Callable, state: RespondioEmulator, admin: httpx.Client) -> None:
    settings = admin.put("/settings", json={"rate_limit_per_second": 50, "latency_ms": 1})
    assert settings.json() == {"rate_limit_per_second": 50, "outage": False, "latency_ms": 1}
    assert state.rate_limit_per_second == 50
    api().post(path("email:h@example.com"), json={"firstName": "H"})
    assert admin.get("/counters").json()["contact.create"] == 1
    (contact,) = admin.get("/contacts", params={"token": TOKEN}).json()
    assert contact["email"] == "h@example.com"
    assert admin.get("/contacts", params={"token": OTHER}).json() == []
    assert [r["status"] for r in admin.get("/requests", params={"token": TOKEN}).json()] == [200]

    assert admin.post("/fail_next", json={"n": 1, "status": 500}).status_code == 200
    assert api().get(path("id:1")).status_code == 500
    assert admin.post("/fail_next", json={"n": 1, "status": 418}).status_code == 400

    assert admin.put("/settings", json={"outage": True}).json()["rate_limit_per_second"] == 50
    assert admin.post("/reset").status_code == 200
    assert state.contacts(TOKEN) == []
    assert admin.get("/counters").json() == {}
    assert admin.get("/settings").json() == {
        "rate_limit_per_second": None,
        "outage": False,
        "latency_ms": 0.0,
    }


__all__ = ["_server", "admin", "api", "state"]
