"""The Contact describe is fetched once per connection per TTL across every process."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from tests.helpers.factories import connect_default_user
from tests.helpers.processes import run_together


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    return sf_settings


async def test_two_service_processes_and_a_worker_fetch_the_describe_once(
    app: Any, sf_emulator: Any, settings: Settings
) -> None:
    org = next(org for org in sf_emulator.orgs.values() if org.api_enabled)
    await connect_default_user(app, sf_emulator, org)
    sf_emulator.reset_counters()
    summaries = await run_together(
        "workspace/describe_process.py",
        [[role, "ws-1", "10"] for role in ("service", "service", "worker")],
        settings,
    )
    assert [s["ok"] for s in summaries] == [10, 10, 10]
    assert len({tuple(s["fields"]) for s in summaries}) == 1 and summaries[0]["fields"][0] > 0
    assert sf_emulator.counters["describe"] == 1
    # This process reads it from the database too.
    context = await app.state.services.caches.contexts.get("ws-1")
    assert (await app.state.services.caches.describes.get(context)).fields
    assert sf_emulator.counters["describe"] == 1
