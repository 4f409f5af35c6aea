"""What the auto-create tests share: workspaces set up for auto-create, Outbound Message
deliveries, the rows they leave, and a worker running in the test process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from app.autocreate.reconcile import Reconciler
from app.config import Settings
from app.models import AutocreateContact
from emulator.salesforce.outbound import build_deliveries, is_ack
from tests.helpers.factories import (
    grant_from_emulator,
    insert_connection,
    set_auto_create,
    set_respondio_token,
    set_webhook_key,
)

ACME = "00D5g000003GIV7EAO"


ACME_ADMIN = "admin@acme.example"


ACME_SALES_USER = "0055g000000GR44AAG"


WEBHOOK_PATH = "/v1/webhooks/salesforce/outbound-messages/"


def fast_settings(base: dict[str, Any]) -> dict[str, Any]:
    """Tiny intervals and backoffs so tests wait milliseconds, not minutes."""
    return {
        **base,
        "respondio_max_requests_per_second": 1000.0,
        "respondio_timeout_seconds": 3.0,
        "autocreate_reconcile_interval_seconds": 0.3,
        "autocreate_reconcile_overlap_seconds": 5.0,
        "autocreate_bulk_settle_seconds": 0.2,
        "autocreate_bulk_min_batch": 5,
        "autocreate_retry_base_seconds": 0.05,
        "autocreate_retry_max_seconds": 0.3,
        "autocreate_job_heartbeat_seconds": 1.0,
        "autocreate_lease_seconds": 2.0,
        "autocreate_worker_concurrency": 8,
    }


@dataclass
class Workspace:
    id: str
    key: str
    token: str
    organization_id: str = ACME

    @property
    def webhook_path(self) -> str:
        return WEBHOOK_PATH + self.key


async def connect_workspace(
    app: Any,
    sf_emulator: Any,
    workspace_id: str,
    *,
    add_tag: bool = True,
    include_bulk_imports: bool = False,
    enabled_at: datetime | None = None,
) -> Workspace:
    grant = await grant_from_emulator(sf_emulator.base_url, ACME_ADMIN)
    db, cipher = app.state.services.db, app.state.services.cipher
    await insert_connection(db, cipher, workspace_id, grant, login_url=sf_emulator.base_url)
    key = await set_webhook_key(db, cipher, workspace_id)
    await set_auto_create(
        db,
        workspace_id,
        add_tag=add_tag,
        include_bulk_imports=include_bulk_imports,
        enabled_at=enabled_at or datetime.now(UTC) - timedelta(hours=1),
    )
    token = f"rio-token-{workspace_id}"
    await set_respondio_token(db, cipher, workspace_id, token)
    return Workspace(id=workspace_id, key=key, token=token)


def ago(seconds: float) -> datetime:
    """A past moment in whole seconds, as Salesforce stores CreatedDate."""
    return (datetime.now(UTC) - timedelta(seconds=seconds)).replace(microsecond=0)


def add_contacts(sf_emulator: Any, n: int, *, prefix: str = "person") -> list[str]:
    """n Contacts with an email each, created one second apart (so never a bulk import)."""
    ids = []
    for i in range(n):
        record = sf_emulator.add_contact(
            ACME,
            {"FirstName": f"P{i}", "LastName": prefix, "Email": f"{prefix}{i}@example.com"},
            created_date=ago(1000 - i),
        )
        ids.append(record["Id"])
    return ids


async def deliver(
    client: httpx.AsyncClient,
    sf_emulator: Any,
    path: str,
    contact_ids: list[str],
    *,
    batch_size: int = 100,
) -> list[httpx.Response]:
    """Have the Salesforce emulator build its Outbound Messages and post them to us."""
    deliveries = build_deliveries(
        sf_emulator, ACME, "http://testserver" + path, contact_ids, batch_size=batch_size
    )
    responses = []
    for delivery in deliveries:
        responses.append(await post_soap(client, path, delivery.body))
    return responses


async def post_soap(client: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    return await client.post(
        path, content=body, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    )


def acked(response: httpx.Response) -> bool:
    return response.status_code == 200 and is_ack(response.content)


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def rows(app: Any, workspace_id: str | None = None) -> list[AutocreateContact]:
    async with app.state.services.db.transaction() as session:
        query = select(AutocreateContact).order_by(AutocreateContact.id)
        if workspace_id is not None:
            query = query.where(AutocreateContact.workspace_id == workspace_id)
        return list((await session.scalars(query)).all())


async def settled(app: Any, count: int, workspace_id: str | None = None) -> bool:
    current = await rows(app, workspace_id)
    return len(current) >= count and all(r.status != "pending" for r in current)


@asynccontextmanager
async def running_worker(settings: Settings, **kwargs: Any) -> AsyncIterator[Any]:
    from app.worker import Worker

    worker = Worker(settings, **kwargs)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, timeout=30)


def reconciler_of(app: Any, settings: Settings) -> Reconciler:
    """A Reconciler on the app's services (its API budget and shared describe)."""
    services = app.state.services
    return Reconciler(
        services.db,
        services.salesforce,
        settings,
        budget=services.budget,
        describes=services.caches.describes,
    )


@asynccontextmanager
async def job_runner(settings: Settings) -> AsyncIterator[Any]:
    """The auto-create job handler of a worker, without its queue: a test runs each row's job
    itself (`run_pending`), so nothing waits on a clock."""
    import asyncpg

    from app.autocreate.jobs import AutocreateJobs
    from app.crypto import TokenCipher
    from app.respondio.client import RespondioClient
    from app.worker import asyncpg_dsn

    pool = await asyncpg.create_pool(asyncpg_dsn(settings), min_size=1, max_size=2)
    async with httpx.AsyncClient() as http:
        respondio = RespondioClient(
            http,
            settings.respondio_api_base_url,
            max_requests_per_second=settings.respondio_max_requests_per_second,
            timeout=settings.respondio_timeout_seconds,
        )
        try:
            yield AutocreateJobs(pool, TokenCipher(settings.encryption_keys), respondio, settings)
        finally:
            await pool.close()


async def run_pending(app: Any, jobs: Any) -> int:
    """Run the job of every pending row once (a retry asked for is left for the next call);
    returns how many jobs ran."""
    from pgqueuer import RetryRequested

    ran = 0
    for row in await rows(app):
        if row.status == "pending":
            ran += 1
            try:
                await jobs.run(row.id)
            except RetryRequested:
                pass
    return ran


async def queued_jobs(database_url: str) -> int:
    """Auto-create jobs waiting in PgQueuer's queue."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'queued'"))
    finally:
        await conn.close()


async def seed_contact(sf_emulator: Any, fields: dict[str, Any], created_date: datetime) -> str:
    """A Contact made by a user, through the emulator's control API over HTTP."""
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as http:
        response = await http.post(
            f"/__emulator/orgs/{ACME}/contacts",
            json={"fields": fields, "created_date": created_date.strftime("%Y-%m-%dT%H:%M:%SZ")},
        )
    assert response.status_code == 201, response.text
    return str(response.json()["Id"])
