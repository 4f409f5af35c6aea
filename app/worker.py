"""`python -m app.worker`: the auto-create job workers, the reconciliation scheduler, the
token keep-alive (app.workspace.keepalive), every hour the removal of write-back
idempotency keys past their 24 hours, and the orgs' change streams (app.stream).

Run as many as you like: PgQueuer hands each job to one worker (`FOR UPDATE SKIP LOCKED`),
re-offers a job whose worker stopped heart-beating, and the reconciliation claim makes each
workspace reconcile once per interval across all of them. SIGTERM (or SIGINT) stops taking
new work and lets the jobs in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

import asyncpg
import httpx
from pgqueuer import Queries, QueueManager
from pgqueuer.db import AsyncpgPoolDriver
from pgqueuer.models import Job

from app.autocreate.ingest import ENTRYPOINT
from app.autocreate.jobs import AutocreateJobs
from app.autocreate.reconcile import Reconciler
from app.autocreate.stream_hooks import AutocreateStreamHooks
from app.autocreate.waiting import resume_waiting
from app.config import Settings, get_settings
from app.conversation_logging.jobs import SWEEP_SECONDS, ConversationLogger, build_logger
from app.crypto import TokenCipher
from app.db import Database
from app.errors import unavailable_database
from app.logs import configure_logging
from app.respondio.client import RespondioClient
from app.salesforce.client import SalesforceClient
from app.salesforce.pubsub.client import PubSubClient
from app.stream.manager import StreamManager, new_worker_id
from app.stream.subscriber import StreamDeps
from app.tracing import instrument_database, instrument_http, span
from app.workspace.budget import ApiBudget
from app.workspace.describe_store import DescribeStore
from app.workspace.describes import DescribeCache
from app.workspace.keepalive import TICK_SECONDS as KEEPALIVE_TICK_SECONDS
from app.workspace.keepalive import KeepAlive
from app.workspace.tokens import TokenStore
from app.writeback.repository import delete_expired_keys

logger = logging.getLogger("app.worker")


def remember_missing_sniffio() -> None:
    """httpcore tries `import sniffio` (an optional package) several times per request;
    when it is not installed every failed import searches sys.path again, which cost ~30%
    of a job's CPU in the auto-create benchmark. A None entry in sys.modules makes that
    import fail at once, exactly as it would have failed anyway."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


SUMMARY_INTERVAL_SECONDS = 30.0
# After the job queue fails (the database went away), it is started again this much later.
QUEUE_RESTART_SECONDS = 1.0
KEY_PRUNE_SECONDS = 3600.0


def asyncpg_dsn(settings: Settings) -> str:
    return settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Pool reset for the jobs' connections. Their statements change no session state (no
    SET, LISTEN, advisory lock or cursor), and asyncpg still rolls back a transaction left
    open, so the default reset (one more round trip per release) is skipped."""


def shared_describes(
    db: Database, salesforce: SalesforceClient, tokens: TokenStore, settings: Settings
) -> DescribeCache:
    """The worker's describes: the ones every service process shares (app.services)."""
    return DescribeCache(
        salesforce, tokens, ttl_seconds=settings.fields_cache_ttl_seconds, store=DescribeStore(db)
    )


class Worker:
    """Job processing and reconciliation in one process; `stop()` ends both gracefully."""

    def __init__(
        self, settings: Settings, *, jobs: bool = True, reconcile: bool = True, stream: bool = True
    ) -> None:
        self.settings = settings
        self._run_jobs = jobs
        self._run_reconcile = reconcile
        self._run_stream = stream and settings.change_stream_enabled
        self.streams: StreamManager | None = None
        self._stop = asyncio.Event()
        self._queue: QueueManager | None = None
        self._conversations: ConversationLogger | None = None

    def stop(self) -> None:
        self._stop.set()
        if self._queue is not None:
            self._queue.shutdown.set()

    async def run(self) -> None:
        settings = self.settings
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set")
        db = Database.for_settings(settings)
        instrument_database(db.engine, settings)
        concurrency = max(2, settings.autocreate_worker_concurrency)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.salesforce_timeout_seconds, connect=5.0),
            limits=httpx.Limits(
                max_connections=max(settings.salesforce_max_connections, concurrency),
                max_keepalive_connections=max(settings.salesforce_max_connections, concurrency),
            ),
            follow_redirects=False,
        )
        instrument_http(http, settings)
        cipher = TokenCipher(settings.encryption_keys)
        budget = ApiBudget(db, settings)
        tokens = TokenStore(db, cipher, http, settings, budget=budget)
        salesforce = SalesforceClient(http, settings, tokens, observer=budget)
        describes = shared_describes(db, salesforce, tokens, settings)
        respondio = RespondioClient(
            http,
            settings.respondio_api_base_url,
            max_requests_per_second=settings.respondio_max_requests_per_second,
            timeout=settings.respondio_timeout_seconds,
        )
        # Bounded like app.db's engine: connecting, and every statement.
        bounds = {
            "timeout": settings.database_connect_timeout_seconds,
            "command_timeout": settings.database_statement_timeout_seconds,
        }
        pool = await asyncpg.create_pool(asyncpg_dsn(settings), min_size=2, max_size=4, **bounds)
        # The jobs' own statements (claim, outcome) run on plain asyncpg connections: each
        # is held for one statement or one short transaction, so a few serve every job.
        jobs_pool = await asyncpg.create_pool(
            asyncpg_dsn(settings),
            min_size=1,
            max_size=max(2, min(settings.db_pool_size, concurrency)),
            reset=_keep_session,
            **bounds,
        )
        logger.info(
            "worker.started",
            extra={"jobs": self._run_jobs, "reconcile": self._run_reconcile},
        )
        jobs = AutocreateJobs(jobs_pool, cipher, respondio, settings)
        conversations = self._conversations = build_logger(
            jobs_pool, cipher, respondio, salesforce, budget, settings
        )
        budget.start()
        try:
            async with asyncio.TaskGroup() as group:
                if self._run_jobs:
                    group.create_task(self._process_jobs(jobs, pool, concurrency))
                    group.create_task(self._summarize(jobs))
                    sweep = ("conversation_logging.sweep_failed", conversations.sweep)
                    group.create_task(self._every(SWEEP_SECONDS, sweep))
                if self._run_reconcile:
                    reconciler = Reconciler(
                        db, salesforce, settings, budget=budget, describes=describes
                    )
                    group.create_task(self._schedule(reconciler, db))
                    keepalive = KeepAlive(db, tokens, settings, budget=budget)
                    group.create_task(self._keep_alive(keepalive))
                    group.create_task(
                        self._every(
                            KEY_PRUNE_SECONDS,
                            ("writeback.keys.prune_failed", partial(_prune_keys, db)),
                        )
                    )
                if self._run_stream:
                    group.create_task(self._stream(db, tokens, salesforce))
        finally:
            _log_summary(jobs)  # what finished after the last periodic line
            await budget.stop()
            await pool.close()
            await jobs_pool.close()
            await http.aclose()
            await db.dispose()
            logger.info("worker.stopped")

    async def _process_jobs(
        self, jobs: AutocreateJobs, pool: asyncpg.Pool, concurrency: int
    ) -> None:
        """Run the job queue until stopped. The queue fails when the database goes away (its
        listening connection is reset): it is started again, so the worker outlives a
        database outage and picks up where it was (jobs are in the database)."""
        while not self._stop.is_set():
            try:
                await self._run_queue(jobs, pool, concurrency)
            except Exception as exc:  # noqa: BLE001 - the worker must outlive the queue
                if self._stop.is_set():
                    return
                logger.warning("autocreate.queue.restarting", extra={"error": type(exc).__name__})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), QUEUE_RESTART_SECONDS)

    async def _run_queue(self, jobs: AutocreateJobs, pool: asyncpg.Pool, concurrency: int) -> None:
        queue = QueueManager(Queries(AsyncpgPoolDriver(pool)))

        async def handle(job: Job) -> None:
            with span("autocreate.job"):
                await jobs.handle(job)

        queue.entrypoint(ENTRYPOINT, on_failure="delete")(handle)
        if self._conversations is not None:  # closed conversations become Tasks
            self._conversations.register(queue)
        self._queue = queue
        if self._stop.is_set():
            return
        heartbeat = timedelta(seconds=self.settings.autocreate_job_heartbeat_seconds)
        batch = max(1, concurrency // 2)
        await queue.run(
            # Stale jobs (a worker died) are only found by polling: poll within a heartbeat.
            # Within a second: a conversation to log is due again at most 5 s after a fault.
            dequeue_timeout=max(timedelta(seconds=0.1), min(timedelta(seconds=1), heartbeat / 2)),
            batch_size=batch,
            max_concurrent_tasks=2 * batch,
            heartbeat_timeout=heartbeat,
        )

    async def _stream(self, db: Database, tokens: TokenStore, salesforce: SalesforceClient) -> None:
        """The change streams of the orgs this worker holds (docs/real-time.md)."""
        pubsub = PubSubClient(self.settings)
        hooks = AutocreateStreamHooks(self.settings)
        deps = StreamDeps(db, pubsub, tokens, salesforce, self.settings, hooks, new_worker_id())
        self.streams = StreamManager(deps)
        try:
            await self.streams.run(self._stop)
        finally:
            await pubsub.close()

    async def _summarize(self, jobs: AutocreateJobs) -> None:
        """One INFO line of outcomes every SUMMARY_INTERVAL_SECONDS (and at the end) instead
        of one per contact, which a bulk import would turn into thousands."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), SUMMARY_INTERVAL_SECONDS)
            _log_summary(jobs)

    async def _schedule(self, reconciler: Reconciler, db: Database) -> None:
        """Each tick: reconciliation, then Contacts waiting for a respond.io token that has
        been set since (app/autocreate/waiting.py)."""
        interval = self.settings.autocreate_reconcile_interval_seconds
        tick = max(0.05, min(interval / 4, 5.0))
        await self._every(
            tick,
            ("autocreate.reconcile.tick_failed", reconciler.tick),
            ("autocreate.waiting.sweep_failed", partial(resume_waiting, db)),
        )

    async def _keep_alive(self, keepalive: KeepAlive) -> None:
        """Refresh quiet connections before Salesforce's idle refresh-token expiry."""
        await self._every(
            KEEPALIVE_TICK_SECONDS, ("salesforce.keepalive.tick_failed", keepalive.tick)
        )

    async def _every(
        self, seconds: float, *steps: tuple[str, Callable[[], Awaitable[object]]]
    ) -> None:
        """Run the steps every `seconds` until stopped: the scheduler and the keep-alive loop.
        A step that fails is logged as its event and the loop goes on."""
        while not self._stop.is_set():
            for event, step in steps:
                try:
                    with span(event.rsplit(".", 1)[0]):
                        await step()
                except Exception as exc:  # noqa: BLE001 - the loop must outlive one bad tick
                    if unavailable_database(exc):
                        # An outage, not a bug: one line per tick, no traceback.
                        logger.warning(event, extra={"error": "database_unavailable"})
                    else:
                        logger.exception(event, extra={"error": type(exc).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), seconds)


async def _prune_keys(db: Database) -> None:
    """The idempotency-key table holds a day of creates, not every create ever made."""
    removed = await delete_expired_keys(db)
    if removed:
        logger.info("writeback.keys.pruned", extra={"removed": removed})


def _log_summary(jobs: AutocreateJobs) -> None:
    summary = jobs.take_summary()
    if summary:
        logger.info("autocreate.jobs.summary", extra={"outcomes": summary})


async def _main() -> None:
    remember_missing_sniffio()
    settings = get_settings()
    configure_logging(settings.log_level)
    worker = Worker(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(_main())
