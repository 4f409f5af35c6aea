"""Service processes a test starts beside its own.

- `run_together`: each runs a script under tests/ that prints `ready` once started, waits for
  a line on stdin, does its work and prints a JSON summary as its last line. Started together
  and let go together, they race for real.
- `service_processes`: the service itself under uvicorn on a free loopback port, a replica a
  test can SIGKILL mid-request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

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
        "CHANGE_STREAM_ENABLED": str(settings.change_stream_enabled).lower(),
        "SALESFORCE_PUBSUB_ADDRESS": settings.salesforce_pubsub_address,
        "CHANGE_STREAM_LEASE_SECONDS": str(settings.change_stream_lease_seconds),
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


@dataclass
class ServiceProcess:
    process: asyncio.subprocess.Process
    base_url: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def service_processes(
    settings: Settings, log_dir: Path, count: int, **overrides: Any
) -> AsyncIterator[list[ServiceProcess]]:
    """`count` replicas, `uvicorn app.main:app` each, on the test's database and emulator
    (`overrides` become environment variables: `writeback_lease_seconds=4` →
    WRITEBACK_LEASE_SECONDS=4); started at once, handed over when every `/healthz` answers,
    stopped (killed) on the way out. Logs: `log_dir/replica-<n>.log`."""
    env = service_env(settings) | {name.upper(): str(value) for name, value in overrides.items()}
    started: list[ServiceProcess] = []
    try:
        for n in range(count):
            port = free_port()
            with (log_dir / f"replica-{n}.log").open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    *("-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)),
                    env=env,
                    cwd=str(ROOT),
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                )
            started.append(ServiceProcess(process, f"http://127.0.0.1:{port}"))
        await asyncio.gather(
            *(_until_healthy(s, log_dir / f"replica-{n}.log") for n, s in enumerate(started))
        )
        yield started
    finally:
        for service in started:
            if service.process.returncode is None:
                service.process.kill()
            await asyncio.wait_for(service.process.wait(), TIMEOUT_SECONDS)


async def _until_healthy(service: ServiceProcess, log_path: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=service.base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if service.process.returncode is not None:
                break
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError("the service did not start:\n" + log_path.read_text(errors="replace"))
