"""Exactly one worker holds an org's stream: workers share the orgs (a newcomer takes a
share), a stopped worker releases its orgs at once, and a worker killed mid-stream (SIGKILL)
is taken over after its lease, resuming after the last processed replay id: nothing lost,
nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.config import Settings
from app.models_stream import ChangeStream
from app.worker import Worker
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    ACME,
    Workspace,
    ago,
    rows,
    running_worker,
    settled,
    wait_until,
)
from tests.helpers.factories import grant_from_emulator, insert_connection, set_auto_create
from tests.stream.helpers import stream_row, wait_for_events, wait_for_state

ROOT = Path(__file__).resolve().parents[2]
GLOBEX, INITECH = "00D8c000003VlcBEAS", "00D4w0000021va5EAA"


async def connect_more(app: Any, sf_emulator: Any) -> None:
    services = app.state.services
    for workspace, username in (
        ("ws-g", "admin@globex.example"),
        ("ws-i", "admin@initech.example"),
    ):
        grant = await grant_from_emulator(sf_emulator.base_url, username)
        await insert_connection(
            services.db, services.cipher, workspace, grant, login_url=sf_emulator.base_url
        )


async def owners(app: Any) -> dict[str, str | None]:
    async with app.state.services.db.transaction() as session:
        found = await session.scalars(select(ChangeStream))
        return {r.organization_id: r.owner for r in found}


def held(worker: Worker) -> set[str]:
    return worker.streams.held if worker.streams is not None else set()


async def test_workers_share_the_orgs_and_a_newcomer_takes_a_share(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace
) -> None:
    await connect_more(app, sf_emulator)
    async with running_worker(settings, jobs=False, reconcile=False) as first:
        await wait_until(lambda: _holds(first, 3))
        async with running_worker(settings, jobs=False, reconcile=False) as second:
            await wait_until(lambda: _split(first, second))
            async with running_worker(settings, jobs=False, reconcile=False) as third:

                async def one_each() -> bool:
                    return all(len(held(w)) == 1 for w in (first, second, third))

                await wait_until(one_each)
                assert held(first) | held(second) | held(third) == {ACME, GLOBEX, INITECH}
                current = await owners(app)
                assert len(set(current.values())) == 3
            # The third stopped (SIGTERM): its org is taken over at the next tick.
            await wait_until(lambda: _split(first, second))
    assert set((await owners(app)).values()) == {None}  # everything released on stop


async def _holds(worker: Worker, count: int) -> bool:
    return len(held(worker)) == count


async def _split(first: Worker, second: Worker) -> bool:
    both = held(first) | held(second)
    return (
        both == {ACME, GLOBEX, INITECH}
        and not held(first) & held(second)
        and {len(held(first)), len(held(second))} == {1, 2}
    )


def worker_environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOCREATE_", "CHANGE_"))}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[name.upper()] = str(value)
    return env


@contextmanager
def worker_process(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m app.worker` with these settings; killed on the way out if still running."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.worker"],
        cwd=ROOT,
        env=worker_environment(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()


async def test_a_worker_killed_mid_stream_loses_nothing_and_doubles_nothing(
    app: Any,
    settings: Settings,
    sf_emulator: Any,
    rio: RespondioEmulator,
    workspace: Workspace,
    tmp_path: Path,
) -> None:
    total = 40
    # Contacts made in a burst are a bulk import: created too, here, so each one shows.
    await set_auto_create(
        app.state.services.db, workspace.id, include_bulk_imports=True, enabled_at=ago(3600)
    )
    created: list[str] = []

    def create_contacts() -> None:  # a user importing Contacts one by one
        for i in range(total):
            record = sf_emulator.add_contact(
                ACME, {"LastName": f"Kill{i}", "Email": f"kill{i}@example.com"}
            )
            created.append(record["Id"])
            time.sleep(0.05)

    with worker_process(settings, tmp_path / "worker.log") as process:
        await wait_for_state(app, "streaming", timeout=60)
        row = await stream_row(app)
        assert row is not None and row.owner is not None
        writer = threading.Thread(target=create_contacts)
        writer.start()
        await wait_for_events(app, 5)
        process.send_signal(signal.SIGKILL)  # mid-stream: events still arriving
        await asyncio.to_thread(process.wait, 10)
        killed_at = await stream_row(app)
        assert killed_at is not None and killed_at.events < total
        await asyncio.to_thread(writer.join)
    async with running_worker(settings, reconcile=False):
        await wait_for_events(app, total, timeout=60)
        await wait_until(lambda: settled(app, total), timeout=60)
        row = await stream_row(app)
        assert row is not None and row.owner is not None and row.owner != killed_at.owner
    assert row.events == total  # every event processed once: none twice, none skipped
    stored = await rows(app)
    assert sorted(r.salesforce_contact_id for r in stored) == sorted(created)
    assert {r.status for r in stored} == {"created"}
    emails = sorted(c.get("email") for c in rio.contacts(workspace.token))
    assert emails == sorted(f"kill{i}@example.com" for i in range(total))


async def test_sigterm_releases_the_workers_orgs_at_once(
    app: Any, settings: Settings, sf_emulator: Any, workspace: Workspace, tmp_path: Path
) -> None:
    # A lease far longer than the test: only the release on SIGTERM can free the org.
    held_long = settings.model_copy(update={"change_stream_lease_seconds": 600.0})
    with worker_process(held_long, tmp_path / "worker.log") as process:
        await wait_for_state(app, "streaming", timeout=60)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    row = await stream_row(app)
    assert row is not None and row.owner is None and row.lease_until is None
