"""Reconciliation is background work: it pauses while the org's API usage is above
SALESFORCE_API_BACKGROUND_MAX_USAGE, says why, resumes below it, and backs off while nothing
new appears."""

from __future__ import annotations

from typing import Any

import httpx

from app.models import AutocreateWorkspace
from tests.helpers.autocreate import ACME, Workspace, add_contacts, deliver, reconciler_of
from tests.helpers.lookups import lookup


async def set_usage(sf_emulator: Any, used: int, limit: int = 15_000) -> None:
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as control:
        answer = await control.patch(
            f"/__emulator/orgs/{ACME}", json={"api_usage": used, "api_max": limit}
        )
        answer.raise_for_status()


async def status_of(client: httpx.AsyncClient, auth: Any, workspace: Workspace) -> Any:
    answer = await client.get(
        f"/v1/workspaces/{workspace.id}/salesforce/auto-create/status",
        headers=auth(workspace.id),
    )
    return answer.json()


async def test_reconciliation_pauses_above_the_background_threshold_and_resumes(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    settings: Any,
    workspace: Workspace,
    auth: Any,
) -> None:
    reconciler = reconciler_of(app, settings)
    assert await reconciler.claim_due_workspaces() == [workspace.id]
    await set_usage(sf_emulator, 12_600)  # 84%
    await lookup(client, auth, ws=workspace.id, email="nobody@example.com")  # measures it
    add_contacts(sf_emulator, 2)
    sf_emulator.reset_counters()

    assert await reconciler.reconcile(workspace.id) == 0
    assert sf_emulator.counters["api"] == 0
    paused = await status_of(client, auth, workspace)
    assert "84%" in paused["paused_reason"] and "80%" in paused["paused_reason"]

    await set_usage(sf_emulator, 3_000)
    await lookup(client, auth, ws=workspace.id, email="else@example.com")  # measures it
    assert await reconciler.reconcile(workspace.id) == 2
    assert (await status_of(client, auth, workspace))["paused_reason"] is None


async def test_reconciliation_backs_off_while_nothing_new_appears(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, settings: Any, workspace: Workspace
) -> None:
    reconciler = reconciler_of(app, settings)
    interval = settings.autocreate_reconcile_interval_seconds

    async def next_gap() -> float:
        async with app.state.services.db.transaction() as session:
            state = await session.get(AutocreateWorkspace, workspace.id)
        assert state is not None and state.next_reconcile_at and state.last_reconciled_at
        return (state.next_reconcile_at - state.last_reconciled_at).total_seconds()

    assert await reconciler.claim_due_workspaces() == [workspace.id]
    gaps = []
    for _ in range(3):
        assert await reconciler.reconcile(workspace.id) == 0
        gaps.append(await next_gap())
    assert gaps[0] < gaps[1] < gaps[2] <= interval * settings.autocreate_reconcile_max_backoff + 1
    assert gaps[2] >= 8 * interval - 1

    # An Outbound Message brings something new: the workspace is due again at once.
    ids = add_contacts(sf_emulator, 1)
    await deliver(client, sf_emulator, workspace.webhook_path, ids)
    assert workspace.id in await reconciler.claim_due_workspaces()
