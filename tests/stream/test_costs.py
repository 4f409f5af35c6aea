"""What a healthy stream saves beyond the lookups' hour (docs/real-time.md, "What it costs"):
describes are revalidated every FIELDS_CACHE_TTL_STREAMING_SECONDS instead of every
FIELDS_CACHE_TTL_SECONDS, and an edit writes from the cached read the stream keeps current
instead of reading the record first; If-Unmodified-Since still refuses to overwrite a change
whose event has not arrived yet."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from tests.helpers.autocreate import ACME, wait_until
from tests.helpers.clock import FakeClock
from tests.helpers.lookups import lookup, put_settings
from tests.stream.test_ttl import streaming_app

ANA = "ana.souza@example.com"
TITLE = "Head of Operations"  # Ana's Title in the emulator's seed
EDIT_URL = "/v1/workspaces/ws-1/salesforce/contacts/{}"


async def test_describes_are_revalidated_hourly_while_the_org_streams(
    settings: Settings, sf_emulator: Any, auth: Any
) -> None:
    clock = FakeClock()
    async with streaming_app(settings, sf_emulator, clock) as (http, _health):
        assert (await lookup(http, auth, email=ANA)).status_code == 200
        described = sf_emulator.counters.get("describe", 0)
        clock.advance(settings.fields_cache_ttl_seconds + 60)  # past the 10 minutes
        assert (await lookup(http, auth, email="someone@example.com")).status_code == 200
        assert sf_emulator.counters.get("describe", 0) == described
        clock.advance(settings.fields_cache_ttl_streaming_seconds)  # past the hour
        assert (await lookup(http, auth, email="someone.else@example.com")).status_code == 200
        assert sf_emulator.counters.get("describe", 0) == described + 1


async def test_with_the_stream_an_edit_costs_the_write_and_the_read_back(
    settings: Settings, sf_emulator: Any, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with streaming_app(settings, sf_emulator) as (http, _health):
        await put_settings(http, auth, editing_enabled=True)
        contact_id = (await lookup(http, auth, email=ANA)).json()["contact"]["id"]
        calls = sf_emulator.counters["api"]
        edited = await http.patch(
            EDIT_URL.format(contact_id),
            json={"fields": {"Title": "Edited here"}},
            headers=auth("ws-1", "agent"),
        )
        assert edited.status_code == 200, edited.text
        assert sf_emulator.counters["api"] - calls == 2  # no read before the write
        assert sf_emulator.get_contact(ACME, contact_id)["Title"] == "Edited here"
        history = await http.get(
            EDIT_URL.format(contact_id) + "/history", headers=auth("ws-1", "agent")
        )
        assert history.json()[0]["old_value"] == TITLE  # the cached read's value

        # A change made in Salesforce whose event has not reached the service yet.
        with monkeypatch.context() as patched:
            patched.setattr(sf_emulator.change_events, "record_write", lambda *a, **k: None)
            sf_emulator.update_contact(ACME, contact_id, {"Title": "Changed in Salesforce"})
        conflict = await http.patch(
            EDIT_URL.format(contact_id),
            json={"fields": {"Title": "Mine"}},
            headers=auth("ws-1", "agent"),
        )
        assert conflict.status_code == 409, conflict.text
        assert conflict.json()["code"] == "edit_conflict"
        assert sf_emulator.get_contact(ACME, contact_id)["Title"] == "Changed in Salesforce"


async def test_without_a_healthy_stream_an_edit_reads_the_record_first(
    settings: Settings, sf_emulator: Any, auth: Any
) -> None:
    async with streaming_app(settings, sf_emulator, stop_worker=True) as (http, health):

        async def stopped() -> bool:
            return "ws-1" not in health.streaming

        await wait_until(stopped)
        await put_settings(http, auth, editing_enabled=True)
        contact_id = (await lookup(http, auth, email=ANA)).json()["contact"]["id"]
        calls = sf_emulator.counters["api"]
        edited = await http.patch(
            EDIT_URL.format(contact_id),
            json={"fields": {"Title": "Edited here"}},
            headers=auth("ws-1", "agent"),
        )
        assert edited.status_code == 200, edited.text
        assert sf_emulator.counters["api"] - calls == 3  # read, write, read back
