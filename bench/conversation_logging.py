"""Conversation logging benchmark: prints figures, asserts nothing.

1. The receiver: --events signed `conversation.closed` events (each its own conversation)
   posted to `POST /v1/webhooks/respondio/{key}` by --clients concurrent senders, through the
   ASGI transport (the service in this process, no HTTP server in between): events per
   second accepted (verified, stored, queued) and the answer time (median, 99th percentile).
2. The logger: --conversations closed conversations of --messages messages each, logged by
   one `python -m app.worker` process against the respond.io emulator capped at --rate
   requests/second (RESPONDIO_MAX_REQUESTS_PER_SECOND the same) and the Salesforce emulator
   (--sf-latency-ms added to each of its calls): Tasks per minute, from the first event
   stored to the last conversation settled, against the best the respond.io rate allows
   (its calls / rate), and where the time goes: respond.io calls (count, 429s, the time the
   rate alone needs), Salesforce calls (count, summed time inside the emulator), the
   worker's CPU.

The emulators run in this process on loopback; the database is DATABASE_URL's server, else
127.0.0.1:5432, in a database of its own that is dropped at the end. Bounded: gives up
3 x the best possible time + 60 s after the first event of part 2.

`python bench/conversation_logging.py [--events 2000] [--clients 16] [--conversations 100]
[--messages 20] [--rate 5] [--sf-latency-ms 0]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings  # noqa: E402
from bench._common import (  # noqa: E402
    ROOT,
    ScratchDatabase,
    percentile_ms,
    scratch_database,
    service_env,
    start_salesforce_emulator,
)
from emulator.respondio import RespondioEmulator  # noqa: E402
from emulator.respondio import create_app as create_respondio_app  # noqa: E402
from emulator.respondio.conversation_routes import SeedConversation, SeedMessage, seed  # noqa: E402
from emulator.server import start_in_thread  # noqa: E402
from tests.helpers.factories import (  # noqa: E402
    grant_from_emulator,
    insert_connection,
    set_respondio_token,
)

WORKSPACE = "ws-bench"
TOKEN = "bench-respondio-token"
SIGNING_KEY = "bench-signing-key"


def seed_conversations(rio: RespondioEmulator, n: int, messages: int, prefix: str) -> list[bytes]:
    """n closed conversations of Ana (a Contact of the seeded org), each its own contact id
    in respond.io; their signed event bodies and signatures, ready to post."""
    deliveries = []
    for i in range(n):
        seeded = seed(
            rio,
            SeedConversation(
                token=TOKEN,
                contact={"firstName": "Ana", "lastName": f"{prefix}{i}", "phone": f"+6011{i:07d}"},
                agent={"firstName": "Sam", "lastName": "Seller", "email": "sales@acme.example"},
                messages=[
                    SeedMessage(traffic="incoming" if k % 2 == 0 else "outgoing", text=f"m{k}")
                    for k in range(messages)
                ],
            ),
        )
        contact = {**seeded["contact"], "email": "ana.souza@example.com"}
        event = rio.conversations.close_conversation(
            TOKEN, contact, summary="bench", closed_by_user=seeded["agent"]
        )
        (delivery,) = rio.conversations.deliveries(
            TOKEN, event["event_id"], url="http://bench", signing_key=SIGNING_KEY
        )
        deliveries.append(delivery)
    return deliveries  # type: ignore[return-value]


async def post_all(
    http: httpx.AsyncClient, path: str, deliveries: list[Any], clients: int
) -> list[float]:
    """Post every delivery with `clients` concurrent senders; each answer's time."""
    queue = list(reversed(deliveries))
    times: list[float] = []

    async def sender() -> None:
        while queue:
            delivery = queue.pop()
            started = time.perf_counter()
            response = await http.post(path, content=delivery.body, headers=delivery.headers)
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"event refused: {response.status_code} {response.text}")

    await asyncio.gather(*(sender() for _ in range(clients)))
    return times


async def listening(conn: asyncpg.Connection, worker: subprocess.Popen[bytes]) -> None:
    """Until the worker waits for jobs (PgQueuer's LISTEN), so its start-up is not timed."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        if await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query ILIKE 'LISTEN%'"
        ):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the worker did not start")


async def settled_count(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM logged_conversations GROUP BY 1")
    return {r["status"]: int(r["n"]) for r in rows}


async def bench(database: ScratchDatabase, args: argparse.Namespace) -> None:
    from app.main import create_app

    sf_state, sf = start_salesforce_emulator()
    rio_state = RespondioEmulator(rate_limit_per_second=args.rate)
    rio = start_in_thread(create_respondio_app(rio_state))
    worker: subprocess.Popen[bytes] | None = None
    env = service_env(
        database.url,
        sf.url,
        LOG_LEVEL="WARNING",
        PUBLIC_BASE_URL="http://bench",
        RESPONDIO_API_BASE_URL=rio.url + "/v2",
        RESPONDIO_MAX_REQUESTS_PER_SECOND=str(args.rate),
        AUTOCREATE_RECONCILE_INTERVAL_SECONDS="3600",
    )
    os.environ.update(env)
    try:
        settings = Settings(_env_file=None, log_level="WARNING")  # type: ignore[call-arg]
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services = app.state.services
            db, cipher = services.db, services.cipher
            grant = await grant_from_emulator(sf.url, "admin@acme.example")
            await insert_connection(db, cipher, WORKSPACE, grant, login_url=sf.url)
            await set_respondio_token(db, cipher, WORKSPACE, TOKEN)
            url = (await services.conversation_logging.set_webhook(WORKSPACE, SIGNING_KEY, "b")).url
            path = "/v1/webhooks/respondio/" + url.rsplit("/", 1)[1]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                # 1. the receiver (logging off: the events are only stored)
                events = seed_conversations(rio_state, args.events, 1, "r")
                started = time.perf_counter()
                times = await post_all(http, path, events, args.clients)
                receiver_seconds = time.perf_counter() - started
                conn = await asyncpg.connect(database.dsn)
                await conn.execute("DELETE FROM logged_conversations")
                await conn.execute("DELETE FROM pgqueuer")
                await conn.execute(
                    "INSERT INTO workspace_settings (workspace_id, visible_fields, "
                    "editing_enabled, phone_matching, auto_create_enabled, auto_create_add_tag,"
                    " auto_create_include_bulk_imports, record_creation_enabled, "
                    "activity_logging_enabled, conversation_logging_enabled) VALUES "
                    "($1, '[\"Name\"]', false, 'exact', false, true, false, false, false, true)",
                    WORKSPACE,
                )
                # 2. the logger
                conversations = seed_conversations(
                    rio_state, args.conversations, args.messages, "l"
                )
                rio_before = len(rio_state.requests(TOKEN))
                sf_state.latency_ms = args.sf_latency_ms
                sf_calls_before = len(sf_state.rest_calls)
                worker = subprocess.Popen(  # noqa: ASYNC220 - started once
                    [sys.executable, "-m", "app.worker"], cwd=ROOT, env=env
                )
                await listening(conn, worker)
                first = time.monotonic()
                await post_all(http, path, conversations, 1)
            calls_needed = args.conversations * (-(-args.messages // 100)) + 2
            best = calls_needed / args.rate
            deadline = first + 3 * best + 60
            counts: dict[str, int] = {}
            while time.monotonic() < deadline:
                counts = await settled_count(conn)
                if counts.get("pending", 0) == 0 and sum(counts.values()) >= args.conversations:
                    break
                if worker.poll() is not None:
                    print(f"the worker exited with {worker.returncode}")
                    break
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - first
            await conn.close()
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 30)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        rio_calls = rio_state.requests(TOKEN)[rio_before:]
        sf_calls = list(sf_state.rest_calls)[sf_calls_before:]
        sf_busy = sum((c[1] or c[0]) - c[0] for c in sf_calls)
        logged = counts.get("logged", 0)
        worker_cpu = children.ru_utime + children.ru_stime
        print("-- receiver")
        print(f"events accepted:                {args.events} by {args.clients} senders")
        print(f"events per second:              {args.events / receiver_seconds:8.1f}")
        print(
            f"answer time median / p99:       {statistics.median(times) * 1000:6.1f} ms /"
            f" {percentile_ms(times, 0.99):.1f} ms"
        )
        print("-- logger")
        print(
            f"conversations / messages each:  {args.conversations} / {args.messages};"
            f" outcomes {counts}"
        )
        print(f"respond.io rate (emulator, us): {args.rate:g}/s")
        print(
            f"Tasks per minute:               {logged / elapsed * 60:8.1f}"
            f"  (best at the rate: {args.conversations / best * 60:.1f}; elapsed {elapsed:.2f} s)"
        )
        print("-- where the time goes")
        rate_bound = len(rio_calls) / args.rate
        print(
            f"respond.io calls:               {len(rio_calls)}"
            f" ({sum(1 for r in rio_calls if r.status == 429)} x 429);"
            f" the rate alone needs {rate_bound:.2f} s = {rate_bound / elapsed:.0%} of elapsed"
        )
        print(
            f"Salesforce calls:               {len(sf_calls)}"
            f" ({len(sf_calls) / max(logged, 1):.2f} a Task); {sf_busy:.2f} s inside the"
            f" emulator (latency {args.sf_latency_ms} ms a call) = {sf_busy / elapsed:.0%} of"
            " elapsed, overlapping the respond.io pacing"
        )
        print(
            f"worker CPU:                     {worker_cpu:.2f} s"
            f" ({worker_cpu / max(logged, 1) * 1000:.1f} ms a Task); {os.cpu_count()} CPUs"
        )
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        sf.stop()
        rio.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--sf-latency-ms", type=int, default=0)
    args = parser.parse_args()
    with scratch_database("sfint_bench_conversations") as database:
        asyncio.run(bench(database, args))


if __name__ == "__main__":
    main()
