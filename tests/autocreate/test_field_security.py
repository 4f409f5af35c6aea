"""Auto-create reads Contacts with only the fields the connected user's describe shows
(field-level security, contract 10.3): a profile hiding the phone fields changes what is
read, never whether the Contacts are created."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings
from emulator.respondio import RespondioEmulator
from emulator.salesforce.outbound import build_deliveries
from tests.helpers.autocreate import (
    ACME,
    Workspace,
    acked,
    add_contacts,
    job_runner,
    post_soap,
    run_pending,
    running_worker,
    settled,
    wait_until,
)
from tests.helpers.emulator_control import hide_fields

ADMIN = "0055g000000GR2fAAG"  # the connected user


async def hide_phones(sf_emulator: Any) -> None:
    await hide_fields(sf_emulator, ACME, ADMIN, Contact=["Phone", "MobilePhone"])


async def test_the_webhook_reads_back_without_hidden_fields(
    client: httpx.AsyncClient,
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    await hide_phones(sf_emulator)
    ids = add_contacts(sf_emulator, 2)
    sf_emulator.reset_counters()
    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver/x", ids)
    assert acked(await post_soap(client, workspace.webhook_path, delivery.body))
    async with job_runner(settings) as jobs:
        await run_pending(app, jobs)
    emails = sorted(c["email"] for c in rio.contacts(workspace.token))
    assert emails == ["person0@example.com", "person1@example.com"]
    assert sf_emulator.counters["query"] >= 1


async def test_reconciliation_reads_without_hidden_fields(
    app: Any,
    sf_emulator: Any,
    rio: RespondioEmulator,
    settings: Settings,
    workspace: Workspace,
) -> None:
    await hide_phones(sf_emulator)
    add_contacts(sf_emulator, 3)
    async with running_worker(settings, jobs=True, reconcile=True):
        await wait_until(lambda: settled(app, 3))
    emails = sorted(c["email"] for c in rio.contacts(workspace.token))
    assert emails == [f"person{i}@example.com" for i in range(3)]
