"""The REST API version: the newest GA version Salesforce documents at build time (Winter '27,
v68.0), configurable with SALESFORCE_API_VERSION, and never a retired one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.helpers.contact_app import app, clock, connect
from tests.helpers.lookups import lookup

__all__ = ["app", "clock", "connect"]


async def test_the_default_is_the_newest_version_the_org_serves(sf_emulator: Any) -> None:
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as http:
        versions = (await http.get("/services/data")).json()
    newest = max(versions, key=lambda v: float(v["version"]))
    assert Settings.model_fields["salesforce_api_version"].default == f"v{newest['version']}"


def test_retired_and_malformed_versions_are_refused_at_start() -> None:
    for value in ("v30.0", "v20.0", "v62.5", "latest"):
        with pytest.raises(ValidationError):
            Settings(environment="development", salesforce_api_version=value)
    configured = Settings(environment="development", salesforce_api_version="64.0")
    assert configured.salesforce_api_version == "v64.0"


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    return sf_settings.model_copy(update={"salesforce_api_version": "v60.0"})


async def test_a_configured_version_is_the_one_called(
    client: Any, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await connect("ws-1")
    sf_emulator.reset_counters()
    answer = await lookup(client, auth, email="carla.jones@example.com")
    assert answer.status_code == 200, answer.text
    assert sf_emulator.counters["version.60.0"] >= 1
    assert sf_emulator.counters["version.68.0"] == 0
