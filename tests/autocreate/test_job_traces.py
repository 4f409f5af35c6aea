"""The worker's calls to respond.io carry a W3C `traceparent` (docs/operations.md, "Traces"):
one trace per auto-create job, so a job's calls can be found together."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.config import Settings
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    Workspace,
    add_contacts,
    deliver,
    running_worker,
    settled,
    wait_until,
)

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


async def test_each_job_calls_respondio_within_a_trace_of_its_own(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 2))
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app, 2))

    calls = rio.requests(workspace.token)
    assert len(calls) >= 2
    traces = []
    for call in calls:
        match = TRACEPARENT.match(call.traceparent or "")
        assert match, (call.method, call.path, call.traceparent)
        traces.append(match.group(1))
    # Two jobs, two traces (a job's own calls share its trace).
    assert len(set(traces)) == 2
