"""Auto-create benchmark: prints figures, asserts nothing.

A bulk import of N Contacts (default 10,000, one CreatedDate second, one CreatedById) with
`include_bulk_imports` on, delivered as Salesforce Outbound Messages (100 notifications
each) to the service, then turned into respond.io contacts by one `python -m app.worker`
process against the respond.io emulator capped at --rate requests/second, with
RESPONDIO_MAX_REQUESTS_PER_SECOND set to the same rate.

Each contact costs two respond.io calls (create, then one tag call carrying both the
"Auto-created: Salesforce" tag and the bulk marker), so the best possible time at the rate
is calls_needed / rate. Printed, each as a fraction of that best time:
- the elapsed time from the first message posted to the last contact settled (created or
  not) in the database, polled every 50 ms: the figure that matters to a user. It includes
  the bulk settle delay (--settle, AUTOCREATE_BULK_SETTLE_SECONDS), during which no job may
  run so that the import is seen whole; it is printed with that delay and without it;
- the respond.io phase alone, first call to last (N calls span N-1 intervals, so its best
  is (calls_needed - 1) / rate).
Also: the calls made, the 429s, the most calls the emulator saw arrive in any one second
(its token bucket would let a client burst to twice the rate at first and beat calls/rate;
the worker sends at most the rate in any second, and this shows it did not burst, plus a
few per cent of delivery jitter on a loaded machine), the worker's CPU per contact and its
peak RSS.

The emulators run in this process on loopback; the database is DATABASE_URL's server, else
127.0.0.1:5432, in a database of its own that is dropped at the end. Bounded: gives up
3 x the best possible time + the settle delay + 60 s after the first message, or as soon
as the worker exits.

`python bench/autocreate.py [--contacts 10000] [--rate 200] [--concurrency 20] [--settle 5]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings  # noqa: E402
from bench._common import (  # noqa: E402
    ROOT,
    ScratchDatabase,
    scratch_database,
    service_env,
    start_salesforce_emulator,
)
from emulator.respondio import RespondioEmulator  # noqa: E402
from emulator.respondio import create_app as create_respondio_app  # noqa: E402
from emulator.salesforce.outbound import build_deliveries, is_ack  # noqa: E402
from emulator.server import start_in_thread  # noqa: E402
from tests.helpers.factories import (  # noqa: E402
    grant_from_emulator,
    insert_connection,
    set_auto_create,
    set_respondio_token,
    set_webhook_key,
)

WORKSPACE = "ws-bench"
ACME = "00D5g000003GIV7EAO"
TOKEN = "bench-respondio-token"
CALLS_PER_CONTACT = 2  # create + one tag call (both tags at once)


async def count_created(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'created') AS created, "
        "count(*) FILTER (WHERE status IN ('skipped', 'failed')) AS other "
        "FROM autocreate_contacts"
    )
    assert row is not None
    return int(row["created"]), int(row["other"])


async def wait_for_first_reconciliation(url: str, timeout: float = 60.0) -> None:
    """The worker reconciles once at start-up; import after that so the run measures the
    webhook path alone (reconciliation would find the same Contacts, deduplicated)."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = await conn.fetchval(
                "SELECT last_reconciled_at IS NOT NULL FROM autocreate_workspaces "
                "WHERE workspace_id = $1",
                WORKSPACE,
            )
            if done:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the worker did not start reconciling")
    finally:
        await conn.close()


async def bench(
    database: ScratchDatabase, contacts: int, rate: float, concurrency: int, settle: float
) -> None:
    from app.main import create_app

    plain_url, async_url = database.dsn, database.url
    sf_state, sf = start_salesforce_emulator()
    rio_state = RespondioEmulator(rate_limit_per_second=rate)
    rio = start_in_thread(create_respondio_app(rio_state))
    worker: subprocess.Popen[bytes] | None = None
    try:
        env = service_env(
            async_url,
            sf.url,
            LOG_LEVEL="WARNING",
            PUBLIC_BASE_URL="http://bench",
            RESPONDIO_API_BASE_URL=rio.url + "/v2",
            RESPONDIO_MAX_REQUESTS_PER_SECOND=str(rate),
            AUTOCREATE_WORKER_CONCURRENCY=str(concurrency),
            AUTOCREATE_BULK_SETTLE_SECONDS=str(settle),
            # The bench measures the job path; reconciliation runs once at start-up only.
            AUTOCREATE_RECONCILE_INTERVAL_SECONDS="3600",
            # The job path alone: no change stream (bench/stream.py measures that).
            CHANGE_STREAM_ENABLED="false",
        )
        os.environ.update(env)
        # The service's own request logs would only compete with the emulators for CPU.
        settings = Settings(_env_file=None, log_level="WARNING")  # type: ignore[call-arg]
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            db, cipher = app.state.services.db, app.state.services.cipher
            grant = await grant_from_emulator(sf.url, "admin@acme.example")
            await insert_connection(db, cipher, WORKSPACE, grant, login_url=sf.url)
            key = await set_webhook_key(db, cipher, WORKSPACE)
            await set_auto_create(db, WORKSPACE, include_bulk_imports=True)
            await set_respondio_token(db, cipher, WORKSPACE, TOKEN)

            worker = subprocess.Popen(  # noqa: ASYNC220 - started once, waited on in a thread
                [sys.executable, *os.environ.get("XPROF", "").split(), "-m", "app.worker"],
                cwd=ROOT,
                env=env,
            )
            await wait_for_first_reconciliation(plain_url)
            imported = sf_state.bulk_create_contacts(ACME, contacts)
            path = "/v1/webhooks/salesforce/outbound-messages/" + key
            deliveries = build_deliveries(
                sf_state, ACME, "http://bench" + path, [r["Id"] for r in imported]
            )
            best = contacts * CALLS_PER_CONTACT / rate
            deadline = time.monotonic() + 3 * best + settle + 60
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                started = time.monotonic()
                for delivery in deliveries:
                    response = await http.post(
                        path, content=delivery.body, headers={"Content-Type": "text/xml"}
                    )
                    if not is_ack(response.content):
                        raise RuntimeError(f"message not acknowledged: {response.status_code}")
                stored = time.monotonic() - started
            conn = await asyncpg.connect(plain_url)
            try:
                created = other = 0
                while created + other < contacts and time.monotonic() < deadline:
                    if worker.poll() is not None:
                        print(f"the worker exited with {worker.returncode}")
                        break
                    await asyncio.sleep(0.05)
                    created, other = await count_created(conn)
            finally:
                await conn.close()
            elapsed = time.monotonic() - started
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 30)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        this = resource.getrusage(resource.RUSAGE_SELF)
        worker_peak_kib = children.ru_maxrss

        calls = rio_state.requests(TOKEN)
        ok_calls = [r for r in calls if r.status < 400]
        needed = contacts * CALLS_PER_CONTACT
        phase = (calls[-1].at - calls[0].at) if len(calls) > 1 else float("nan")
        best_phase = (needed - 1) / rate
        counters = rio_state.counter_snapshot()
        worker_cpu = children.ru_utime + children.ru_stime
        print(f"contacts imported (one bulk import):    {contacts}")
        print(f"outbound messages stored and acked:     {len(deliveries)} in {stored:.2f} s")
        print(f"contacts created / skipped+failed:      {created} / {other}")
        print(f"respond.io rate cap (emulator, ours):   {rate:g}/s")
        print(
            f"respond.io calls needed / made:         {needed} / {len(calls)}"
            f" ({len(ok_calls)} ok, {counters.get('429', 0)} x 429)"
        )
        print(
            f"most calls arriving in any 1 s:         "
            f"{rio_state.max_requests_in_window(TOKEN, 1.0)} (the emulator's clock: delivery"
            f" jitter shows)"
        )
        print(f"best possible time (calls / rate):      {best:8.2f} s")
        print(
            f"first message to last contact settled: {elapsed:8.2f} s"
            f"  -> {best / elapsed:.3f} of best (with the {settle:g} s bulk settle delay)"
        )
        print(
            f"  the same without the settle delay:    {elapsed - settle:8.2f} s"
            f"  -> {best / (elapsed - settle):.3f} of best"
        )
        print(
            f"first to last respond.io call:          {phase:8.2f} s"
            f"  -> {best_phase / phase:.3f} of best ({best_phase:.2f} s)"
        )
        print(f"worker peak RSS:                        {worker_peak_kib / 1024:.1f} MiB")
        print(
            f"worker CPU:                             {worker_cpu:.1f} s"
            f" ({worker_cpu / max(created + other, 1) * 1000:.2f} ms a contact);"
            f" this process {this.ru_utime + this.ru_stime:.1f} s; {os.cpu_count()} CPUs"
        )
        if created + other < contacts:
            print(f"GAVE UP after {elapsed:.0f} s with {contacts - created - other} pending")
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        sf.stop()
        rio.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--settle", type=float, default=5.0, help="bulk settle delay, seconds")
    args = parser.parse_args()
    with scratch_database("sfint_bench_autocreate") as database:
        asyncio.run(bench(database, args.contacts, args.rate, args.concurrency, args.settle))


if __name__ == "__main__":
    main()
