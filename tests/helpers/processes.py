"""Service processes a test starts beside its own: each runs a script under tests/ that prints
`ready` once started, waits for a line on stdin, does its work and prints a JSON summary as
its last line. Started together and let go together, they race for real."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 60


def service_env(settings: Settings) -> dict[str, str]:
    """This process's environment pointed at the test's database and Salesforce emulator.
    Without CACHE_URL: the processes share nothing but the database."""
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
    return env


async def run_together(
    script: str, runs: list[list[str]], settings: Settings
) -> list[dict[str, Any]]:
    """Start `tests/<script>` once per argument list, wait until every process is ready, let
    them all go at once; their summaries, in the order of `runs`."""
    env = service_env(settings)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "tests" / script),
            *arguments,
            env=env,
            cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for arguments in runs
    ]
    for process in processes:  # all started, each waiting for the word
        assert process.stdout is not None and process.stderr is not None
        ready = await asyncio.wait_for(process.stdout.readline(), timeout=TIMEOUT_SECONDS)
        if ready.strip() != b"ready":
            raise AssertionError((await process.stderr.read()).decode())
    outputs = await asyncio.gather(
        *(asyncio.wait_for(p.communicate(b"go\n"), timeout=TIMEOUT_SECONDS) for p in processes)
    )
    summaries = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        summaries.append(json.loads(out.decode().strip().splitlines()[-1]))
    return summaries
