"""A worker process killed with SIGKILL while a job is in flight: nothing is lost, nothing is
duplicated. `python -m app.worker` runs as a real subprocess; a new worker finishes the job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from app.autocreate.outcomes import AUTO_CREATED_TAG
from app.config import Settings
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    ACME,
    Workspace,
    add_contacts,
    ago,
    connect_workspace,
    deliver,
    rows,
    running_worker,
    settled,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]


def worker_environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOCREATE_", "RESPONDIO_"))}
    names = [
        "environment",
        "database_url",
        "salesforce_login_url",
        "salesforce_sandbox_login_url",
        "salesforce_extra_allowed_hosts",
        "respondio_api_base_url",
        "respondio_max_requests_per_second",
        "respondio_timeout_seconds",
        "token_encryption_keys",
        "log_level",
        "change_stream_enabled",
    ]
    names += [name for name in Settings.model_fields if name.startswith("autocreate_")]
    for name in names:
        env[name.upper()] = str(getattr(settings, name))
    return env


async def kill_worker_when(
    settings: Settings, log_path: Path, condition: Callable[[], Awaitable[bool]]
) -> None:
    """Run `python -m app.worker` as a subprocess and SIGKILL it once `condition` holds."""
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: ASYNC220 - killed below, never waited on while blocking
        [sys.executable, "-m", "app.worker"],
        cwd=ROOT,
        env=worker_environment(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        await wait_until(condition)
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()


async def restart_and_settle(
    app: Any,
    rio: RespondioEmulator,
    rio_idle: Callable[[], Awaitable[bool]],
    settings: Settings,
    count: int,
) -> None:
    """Once whatever the killed worker had sent is answered (or never arrived), a new worker
    runs until `count` rows are settled."""
    await wait_until(rio_idle)
    rio.configure(latency_ms=0)
    async with running_worker(settings):
        await wait_until(lambda: settled(app, count))


async def test_worker_killed_mid_job_loses_nothing_and_duplicates_nothing(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    tmp_path: Path,
    rio_idle: Callable[[], Awaitable[bool]],
) -> None:
    slow = settings.model_copy(update={"respondio_timeout_seconds": 10.0})
    rio.configure(latency_ms=1500)  # the create is still in flight when the worker dies
    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))

    async def create_in_flight() -> bool:
        [row] = await rows(app)
        return row.create_sent_at is not None

    await kill_worker_when(slow, tmp_path / "worker.log", create_in_flight)
    [row] = await rows(app)
    assert row.status == "pending"  # the killed worker recorded no outcome

    # The orphaned create is answered (after its latency) or never arrived.
    await restart_and_settle(app, rio, rio_idle, settings, 1)
    [row] = await rows(app)
    assert row.status == "created"
    [contact] = rio.contacts(workspace.token)
    assert contact["email"] == "person0@example.com"
    assert contact["tags"] == [AUTO_CREATED_TAG]
    assert rio.counters["contact.created"] == 1


async def test_worker_killed_mid_bulk_import_creates_every_contact_exactly_once(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    tmp_path: Path,
    rio_idle: Callable[[], Awaitable[bool]],
) -> None:
    """A bulk import of 30 Contacts, 8 jobs at a time: the worker dies with some contacts
    created, some creates in flight and the rest not started; a new worker finishes the
    import and respond.io holds each contact once."""
    total = 30
    ws = await connect_workspace(app, sf_emulator, "ws-bulk", include_bulk_imports=True)
    bulk = sf_emulator.bulk_create_contacts(ACME, total, created_date=ago(30))
    await deliver(client, sf_emulator, ws.webhook_path, [r["Id"] for r in bulk])
    rio.configure(latency_ms=300)  # each create and each tagging takes a while

    async def partly_done() -> bool:
        current = await rows(app)
        created = sum(r.status == "created" for r in current)
        in_flight = sum(r.status == "pending" and r.create_sent_at is not None for r in current)
        return created >= 5 and in_flight >= 1

    await kill_worker_when(settings, tmp_path / "worker.log", partly_done)
    left = [r for r in await rows(app) if r.status == "pending"]
    assert left  # the kill left work behind: some sent, some never started
    assert any(r.create_sent_at is not None for r in left)

    await restart_and_settle(app, rio, rio_idle, settings, total)
    assert {r.status for r in await rows(app)} == {"created"}
    emails = sorted(c["email"] for c in rio.contacts(ws.token))
    assert emails == sorted(r["Email"] for r in bulk)  # every one, none twice
    assert rio.counters["contact.created"] == total


async def test_sigterm_stops_the_worker_gracefully(
    settings: Settings, workspace: Workspace, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "app.worker"],
            cwd=ROOT,
            env=worker_environment(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        async def started() -> bool:
            return b"worker.started" in log_path.read_bytes()

        try:
            await wait_until(started)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 20)
        finally:
            if process.poll() is None:
                process.kill()
    assert code == 0
    assert b"worker.stopped" in log_path.read_bytes()
