"""Contacts that arrive before the workspace's respond.io token is set wait for it (no
respond.io call), and are created exactly once as soon as the token is set."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import delete

from app.autocreate.waiting import resume_waiting
from app.config import Settings
from app.models import RespondioCredential
from emulator.respondio import RespondioEmulator
from tests.helpers.autocreate import (
    Workspace,
    add_contacts,
    deliver,
    job_runner,
    queued_jobs,
    rows,
    run_pending,
)
from tests.helpers.factories import set_respondio_token


async def without_token(app: Any, workspace: Workspace) -> None:
    async with app.state.services.db.transaction() as session:
        await session.execute(
            delete(RespondioCredential).where(RespondioCredential.workspace_id == workspace.id)
        )


async def status_of(client: httpx.AsyncClient, auth: Any, ws: Workspace) -> dict[str, Any]:
    response = await client.get(
        f"/v1/workspaces/{ws.id}/salesforce/auto-create/status", headers=auth(ws.id)
    )
    return dict(response.json())


async def test_contacts_wait_for_the_token_and_are_created_once_it_is_set(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    auth: Any,
    database_url: str,
) -> None:
    await without_token(app, workspace)
    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 2))
    async with job_runner(settings) as jobs:
        assert await run_pending(app, jobs) == 2
        assert rio.counters["requests"] == 0
        assert {(r.status, r.reason) for r in await rows(app)} == {
            ("waiting", "respondio_not_configured")
        }
        assert {r.email for r in await rows(app)} == {"person0@example.com", "person1@example.com"}
        status = await status_of(client, auth, workspace)
        assert status["waiting_for"] == "respondio_token"
        assert status["waiting"] == 2 and status["pending"] == 2
        assert status["failed"]["total"] == 0
        assert "respond.io API token" in status["last_error"]["message"]

        await run_pending(app, jobs)  # nothing to run while they wait
        assert rio.counters["requests"] == 0

        await client.put(
            f"/v1/workspaces/{workspace.id}/respondio-credentials",
            json={"api_token": workspace.token},
            headers=auth(workspace.id),
        )
        assert {r.status for r in await rows(app)} == {"pending"}
        assert await queued_jobs(database_url) >= 2
        await run_pending(app, jobs)
        await run_pending(app, jobs)
    assert {r.status for r in await rows(app)} == {"created"}
    assert rio.counters["contact.create"] == 2
    assert len(rio.contacts(workspace.token)) == 2
    status = await status_of(client, auth, workspace)
    assert status["waiting_for"] is None and status["created"] == 2


async def test_the_worker_tick_resumes_rows_when_a_token_appears_another_way(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
    database_url: str,
) -> None:
    """E.g. the token was stored by a request that raced the job parking its row."""
    await without_token(app, workspace)
    await deliver(client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    async with job_runner(settings) as jobs:
        await run_pending(app, jobs)
        db = app.state.services.db
        assert await resume_waiting(db) == 0  # still no token: they keep waiting
        assert [r.status for r in await rows(app)] == ["waiting"]
        await set_respondio_token(db, app.state.services.cipher, workspace.id, workspace.token)
        assert await resume_waiting(db) == 1
        await run_pending(app, jobs)
    assert [r.status for r in await rows(app)] == ["created"]
    assert rio.counters["contact.create"] == 1
