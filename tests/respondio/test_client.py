"""RespondioClient against the respond.io emulator over real HTTP, plus respx edge cases."""

from __future__ import annotations

import asyncio
import logging
import traceback
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from app.respondio.client import RespondioClient, identifier_for, parse_retry_after
from app.respondio.errors import (
    RespondioAuthError,
    RespondioBadRequest,
    RespondioConflict,
    RespondioError,
    RespondioNotFound,
    RespondioRateLimited,
    RespondioUnavailable,
)
from tests.helpers.respondio import RespondioServer

TOKEN = "ws-token-3f9c1d0e7a"
OTHER_TOKEN = "ws-token-other-88b2"
PHONE = "+60123456789"


def make_client(
    http: httpx.AsyncClient, server: RespondioServer, *, rps: float = 100.0
) -> RespondioClient:
    return RespondioClient(http, server.base_url, max_requests_per_second=rps, timeout=5.0)


def assert_token_hidden(exc: BaseException, token: str = TOKEN) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    assert token not in text


# ----------------------------------------------------------------- identifiers


def test_identifier_prefers_email() -> None:
    assert identifier_for("ann@example.com", PHONE) == "email:ann@example.com"
    assert identifier_for("  ", PHONE) == f"phone:{PHONE}"
    assert identifier_for(None, PHONE) == f"phone:{PHONE}"


@pytest.mark.parametrize("phone", ["60123456789", "+0123456", "+60 12 345", "+1"])
def test_identifier_rejects_non_e164_phone(phone: str) -> None:
    with pytest.raises(ValueError):
        identifier_for(None, phone)


def test_identifier_needs_email_or_phone() -> None:
    with pytest.raises(ValueError):
        identifier_for(None, None)


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after("1.5", now=now) == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) == 1.0
    assert parse_retry_after("soon") == 1.0


# ------------------------------------------------------- against the emulator


async def test_create_then_get(http: httpx.AsyncClient, respondio_emulator: RespondioServer):
    client = make_client(http, respondio_emulator)
    body = {
        "firstName": "Ann",
        "lastName": "Lee",
        "email": "ann@example.com",
        "phone": PHONE,
        "custom_fields": [{"name": "salesforce_id", "value": "003XX0000001"}],
    }
    created = await client.create_contact(TOKEN, "email:ann@example.com", body)
    assert created["code"] == 200

    contacts = respondio_emulator.state.contacts(TOKEN)
    assert len(contacts) == 1
    stored = contacts[0]
    assert (stored["firstName"], stored["lastName"]) == ("Ann", "Lee")
    assert (stored["email"], stored["phone"]) == ("ann@example.com", PHONE)
    assert stored["custom_fields"] == [{"name": "salesforce_id", "value": "003XX0000001"}]

    by_phone = await client.get_contact(TOKEN, f"phone:{PHONE}")
    by_id = await client.get_contact(TOKEN, f"id:{stored['id']}")
    assert by_phone == by_id == stored
    # Contacts belong to the token's workspace only.
    assert await client.get_contact(OTHER_TOKEN, f"phone:{PHONE}") is None


async def test_get_unknown_is_none(http: httpx.AsyncClient, respondio_emulator: RespondioServer):
    client = make_client(http, respondio_emulator)
    assert await client.get_contact(TOKEN, "email:nobody@example.com") is None
    assert respondio_emulator.state.counters["contact.get"] == 1


async def test_duplicate_create_is_a_conflict(
    http: httpx.AsyncClient, respondio_emulator: RespondioServer
):
    client = make_client(http, respondio_emulator)
    await client.create_contact(TOKEN, f"phone:{PHONE}", {"firstName": "Bo"})
    with pytest.raises(RespondioConflict) as caught:
        await client.create_contact(TOKEN, f"phone:{PHONE}", {"firstName": "Bo"})
    assert isinstance(caught.value, RespondioBadRequest)
    assert caught.value.status == 409
    assert not caught.value.retryable
    assert len(respondio_emulator.state.contacts(TOKEN)) == 1


async def test_create_without_first_name_is_a_bad_request(
    http: httpx.AsyncClient, respondio_emulator: RespondioServer
):
    client = make_client(http, respondio_emulator)
    with pytest.raises(RespondioBadRequest) as caught:
        await client.create_contact(TOKEN, "email:x@example.com", {"lastName": "Only"})
    assert caught.value.status == 400
    assert "firstName" in str(caught.value)
    assert respondio_emulator.state.contacts(TOKEN) == []


async def test_create_or_update_never_duplicates(
    http: httpx.AsyncClient, respondio_emulator: RespondioServer
):
    client = make_client(http, respondio_emulator)
    ident = "email:cy@example.com"
    first = await client.create_or_update_contact(
        TOKEN, ident, {"firstName": "Cy", "custom_fields": [{"name": "a", "value": "1"}]}
    )
    second = await client.create_or_update_contact(
        TOKEN, ident, {"firstName": "Cyrus", "custom_fields": [{"name": "b", "value": "2"}]}
    )
    assert first["contactId"] == second["contactId"]
    (stored,) = respondio_emulator.state.contacts(TOKEN)
    assert stored["id"] == first["contactId"]
    assert stored["firstName"] == "Cyrus"
    assert stored["custom_fields"] == [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]


async def test_add_tags(http: httpx.AsyncClient, respondio_emulator: RespondioServer):
    client = make_client(http, respondio_emulator)
    await client.create_contact(TOKEN, f"phone:{PHONE}", {"firstName": "Di"})
    assert await client.add_tags(TOKEN, f"phone:{PHONE}", ["Auto-created: Salesforce"]) is None
    await client.add_tags(TOKEN, f"phone:{PHONE}", ["Auto-created: Salesforce", "bulk"])
    (stored,) = respondio_emulator.state.contacts(TOKEN)
    assert stored["tags"] == ["Auto-created: Salesforce", "bulk"]
    with pytest.raises(RespondioNotFound):
        await client.add_tags(TOKEN, "email:ghost@example.com", ["x"])


async def test_auth_errors(http: httpx.AsyncClient, respondio_emulator: RespondioServer):
    client = make_client(http, respondio_emulator)
    with pytest.raises(RespondioAuthError):
        await client.get_contact("", "email:a@example.com")
    assert respondio_emulator.state.counters["requests"] == 0  # refused before sending

    respondio_emulator.state.allowed_tokens = frozenset({OTHER_TOKEN})
    with pytest.raises(RespondioAuthError) as caught:
        await client.get_contact(TOKEN, "email:a@example.com")
    assert caught.value.status == 401
    assert not caught.value.retryable
    assert_token_hidden(caught.value)


async def test_rate_limited_carries_retry_after_and_is_not_retried(
    http: httpx.AsyncClient, respondio_emulator: RespondioServer
):
    client = make_client(http, respondio_emulator)
    respondio_emulator.state.fail_next(1, status=429, retry_after=3)
    with pytest.raises(RespondioRateLimited) as caught:
        await client.get_contact(TOKEN, "email:a@example.com")
    assert caught.value.retry_after == 3.0
    assert caught.value.retryable
    assert_token_hidden(caught.value)
    assert respondio_emulator.state.counters["requests"] == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_unavailable(
    http: httpx.AsyncClient, respondio_emulator: RespondioServer, status: int
):
    client = make_client(http, respondio_emulator)
    respondio_emulator.state.fail_next(1, status=status)
    with pytest.raises(RespondioUnavailable) as caught:
        await client.create_contact(TOKEN, "email:e@example.com", {"firstName": "E"})
    assert caught.value.status == status
    assert respondio_emulator.state.counters["requests"] == 1  # no retry inside the client
    assert respondio_emulator.state.contacts(TOKEN) == []


async def test_outage_is_unavailable(http: httpx.AsyncClient, respondio_emulator: RespondioServer):
    client = make_client(http, respondio_emulator)
    respondio_emulator.state.configure(outage=True)
    with pytest.raises(RespondioUnavailable):
        await client.get_contact(TOKEN, "email:a@example.com")


async def test_limiter_keeps_under_the_server_limit(
    http: httpx.AsyncClient, respondio_emulator: RespondioServer
):
    state = respondio_emulator.state
    state.configure(rate_limit_per_second=10)
    client = make_client(http, respondio_emulator, rps=10)
    results = await asyncio.gather(
        *(client.get_contact(TOKEN, f"email:u{i}@example.com") for i in range(15)),
        return_exceptions=True,
    )
    assert results == [None] * 15
    # The server's bucket holds 10 and refills 10/s; 15 requests paced by the client never
    # empty it, however the machine's load bunches their arrival (counting arrivals per
    # window would be a timing assertion).
    assert state.counters["429"] == 0
    assert state.counters["contact.get"] == 15


async def test_without_the_limiter_the_server_limit_bites(
    http: httpx.AsyncClient, respondio_emulator: RespondioServer
):
    state = respondio_emulator.state
    state.configure(rate_limit_per_second=5)
    client = make_client(http, respondio_emulator, rps=10_000)
    results = await asyncio.gather(
        *(client.get_contact(TOKEN, f"email:u{i}@example.com") for i in range(20)),
        return_exceptions=True,
    )
    limited = [r for r in results if isinstance(r, RespondioRateLimited)]
    assert limited and all(r.retry_after >= 1 for r in limited)
    assert state.counters["429"] == len(limited)


async def test_limiter_is_per_workspace_and_not_keyed_by_token(
    http: httpx.AsyncClient, respondio_emulator: RespondioServer
):
    # 0.5 requests a second: after one call a workspace has no capacity for 2 seconds.
    client = make_client(http, respondio_emulator, rps=0.5)
    await client.get_contact(TOKEN, "email:a@example.com")
    assert not client._limiter_for(TOKEN).has_capacity()
    assert client._limiter_for(OTHER_TOKEN).has_capacity()
    await client.get_contact(OTHER_TOKEN, "email:a@example.com")
    assert client._limiter_for(TOKEN) is not client._limiter_for(OTHER_TOKEN)
    assert len(client._limiters) == 2
    assert all(TOKEN not in key and OTHER_TOKEN not in key for key in client._limiters)


# ------------------------------------------------------------ respx edge cases

BASE = "https://respond.test/v2"


async def test_identifier_is_url_encoded_and_timeout_explicit() -> None:
    async with httpx.AsyncClient() as http, respx.mock(base_url=BASE) as mock:
        route = mock.get(url__regex=r".*/contact/.*").respond(404, json={"message": "none"})
        client = RespondioClient(http, BASE, timeout=3.5)
        assert await client.get_contact(TOKEN, f"phone:{PHONE}") is None
        request = route.calls.last.request
        assert request.url.raw_path == b"/v2/contact/phone%3A%2B60123456789"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.extensions["timeout"] == httpx.Timeout(3.5).as_dict()


async def test_retry_after_as_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    async with httpx.AsyncClient() as http, respx.mock(base_url=BASE) as mock:
        mock.post(url__regex=r".*/tag$").respond(
            429, headers={"Retry-After": format_datetime(when, usegmt=True)}, json={}
        )
        client = RespondioClient(http, BASE)
        with pytest.raises(RespondioRateLimited) as caught:
            await client.add_tags(TOKEN, "id:1", ["x"])
    assert 25 <= caught.value.retry_after <= 31


async def test_rate_limited_without_header_waits_one_second() -> None:
    async with httpx.AsyncClient() as http, respx.mock(base_url=BASE) as mock:
        mock.get(url__regex=r".*").respond(429)
        with pytest.raises(RespondioRateLimited) as caught:
            await RespondioClient(http, BASE).get_contact(TOKEN, "id:1")
    assert caught.value.retry_after == 1.0


@pytest.mark.parametrize(
    "side_effect", [httpx.ReadTimeout("timed out"), httpx.ConnectError("refused")]
)
async def test_transport_failures_are_unavailable_without_the_token(
    side_effect: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.respondio")
    async with httpx.AsyncClient() as http, respx.mock(base_url=BASE) as mock:
        mock.post(url__regex=r".*").mock(side_effect=side_effect)
        with pytest.raises(RespondioUnavailable) as caught:
            await RespondioClient(http, BASE).create_contact(
                TOKEN, "email:a@example.com", {"firstName": "A"}
            )
    assert caught.value.status is None
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert_token_hidden(caught.value)
    (record,) = [r for r in caplog.records if r.getMessage() == "respondio.request.failed"]
    assert record.operation == "create_contact"  # type: ignore[attr-defined]
    assert record.identifier_kind == "email"  # type: ignore[attr-defined]
    assert TOKEN not in repr(record.__dict__)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, RespondioBadRequest),
        (401, RespondioAuthError),
        (403, RespondioAuthError),
        (404, RespondioNotFound),
        (422, RespondioBadRequest),
        (502, RespondioUnavailable),
    ],
)
async def test_status_mapping_redacts_an_echoed_token(
    status: int, kind: type[RespondioError], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.respondio")
    async with httpx.AsyncClient() as http, respx.mock(base_url=BASE) as mock:
        mock.post(url__regex=r".*").respond(
            status, json={"code": status, "message": f"rejected Bearer {TOKEN}"}
        )
        with pytest.raises(kind) as caught:
            await RespondioClient(http, BASE).create_or_update_contact(
                TOKEN, "email:a@example.com", {"firstName": "A"}
            )
    assert caught.value.status == status
    assert "rejected" in str(caught.value)
    assert_token_hidden(caught.value)
    assert all(TOKEN not in repr(r.__dict__) for r in caplog.records)


async def test_unreadable_contact_is_unavailable() -> None:
    async with httpx.AsyncClient() as http, respx.mock(base_url=BASE) as mock:
        mock.get(url__regex=r".*").respond(200, text="<html>gateway</html>")
        with pytest.raises(RespondioUnavailable):
            await RespondioClient(http, BASE).get_contact(TOKEN, "id:1")
