"""The Contact describe is fetched once per connection per TTL across every process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests.helpers.factories import connect_default_user

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    return sf_settings


async def test_two_service_processes_and_a_worker_fetch_the_describe_once(
    app: Any, sf_emulator: Any, settings: Settings
) -> None:
    org = next(org for org in sf_emulator.orgs.values() if org.api_enabled)
    await connect_default_user(app, sf_emulator, org)
    sf_emulator.reset_counters()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": settings.async_database_url,
        "SALESFORCE_LOGIN_URL": settings.salesforce_login_url,
        "SALESFORCE_EXTRA_ALLOWED_HOSTS": settings.salesforce_extra_allowed_hosts,
        "SERVICE_JWT_SECRET": settings.service_jwt_secret,
        "TOKEN_ENCRYPTION_KEYS": settings.token_encryption_keys,
    }
    env.pop("CACHE_URL", None)
    script = str(ROOT / "tests" / "workspace" / "describe_process.py")
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            script,
            role,
            "ws-1",
            "10",
            env=env,
            cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for role in ("service", "service", "worker")
    ]
    for process in processes:  # all started, each waiting for the word
        assert process.stdout is not None
        ready = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert ready.strip() == b"ready", (await process.stderr.read()).decode()  # type: ignore[union-attr]
    outputs = await asyncio.gather(
        *(asyncio.wait_for(p.communicate(b"go\n"), timeout=60) for p in processes)
    )

    summaries = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        summaries.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert [s["ok"] for s in summaries] == [10, 10, 10]
    assert len({tuple(s["fields"]) for s in summaries}) == 1 and summaries[0]["fields"][0] > 0
    assert sf_emulator.counters["describe"] == 1
    # This process reads it from the database too.
    context = await app.state.services.caches.contexts.get("ws-1")
    assert (await app.state.services.caches.describes.get(context)).fields
    assert sf_emulator.counters["describe"] == 1
