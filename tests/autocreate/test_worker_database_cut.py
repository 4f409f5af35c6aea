"""The worker outlives a database cut: its loops fail while PostgreSQL is gone and carry on
once it is back, with no restart (contract 10.11, "Faults and limits")."""

from __future__ import annotations

import logging

import httpx
import pytest

from app.config import Settings
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    Workspace,
    add_contacts,
    deliver,
    rows,
    running_worker,
    settled,
    wait_until,
)
from tests.helpers.faultproxy import FaultProxy


async def test_the_worker_survives_a_database_cut_and_resumes(
    client: httpx.AsyncClient,
    app: object,
    sf_emulator: object,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    pg_proxy: FaultProxy,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    proxied = settings.model_copy(
        update={
            "database_url": pg_proxy.address(database_url),
            "database_connect_timeout_seconds": 1.0,
            "database_statement_timeout_seconds": 1.0,
        }
    )
    first, second = add_contacts(sf_emulator, 2)
    async with running_worker(proxied):
        await deliver(client, sf_emulator, workspace.webhook_path, [first])
        await wait_until(lambda: settled(app, 1))

        await pg_proxy.cut()
        # While the worker's database is gone, the service (its own connection) stores a
        # second Contact's notification; the worker can only run it after the restore.
        await deliver(client, sf_emulator, workspace.webhook_path, [second])
        await wait_until(lambda: _worker_failed(caplog), timeout=30)
        await pg_proxy.restore()

        await wait_until(lambda: settled(app, 2), timeout=60)
    assert {r.status for r in await rows(app)} == {"created"}
    assert rio.counters["contact.created"] == 2


async def _worker_failed(caplog: pytest.LogCaptureFixture) -> bool:
    """The worker has met the cut: its job queue failed, or one of its loops did."""
    return any(
        r.getMessage() in {"autocreate.queue.restarting", "autocreate.reconcile.tick_failed"}
        for r in caplog.records
    )
