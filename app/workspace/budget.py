"""The org's daily Salesforce API allocation: measured, shown, never exhausted by us.

Every Salesforce org has one rolling-24-hour API allocation shared by all its integrations
(docs/api.md, "Salesforce API usage"). `ApiBudget` is the Salesforce client's `CallObserver`:

- **Measure.** Each answer's `Sforce-Limit-Info: api-usage=USED/LIMIT` becomes the org's
  latest usage; each call is counted per workspace, purpose and UTC day. Both are kept in
  memory on the hot path and written to PostgreSQL every `API_USAGE_FLUSH_SECONDS` (one
  upsert per org and per counter that moved, however many calls there were), so every
  replica and worker reads the same figures and a cached lookup writes nothing.
- **Cap.** `background_allowed(org)` is what background work (reconciliation, token
  keep-alive) asks before spending calls: false above `SALESFORCE_API_BACKGROUND_MAX_USAGE`.
  `check_foreground(org)` raises `ApiBudgetExceeded` (a `RequestLimitExceeded`, so the lookup
  cache answers from a stale entry when it has one) above `SALESFORCE_API_FOREGROUND_MAX_USAGE`
  or while Salesforce refuses concurrent long requests.
- **Probe.** A paused org makes no calls, so nothing would tell us its usage dropped: once
  the measurement is older than `PROBE_AFTER_SECONDS` one call is let through, and its answer
  measures the org again.

`Retry-After` is derived from the allocation: the rolling window frees, on average, the
calls spent over the last 24 h at `used / 86400` per second, so getting back under a
threshold `t` takes about `86400 * (1 - t * limit / used)` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import KW_ONLY, InitVar, dataclass, field
from datetime import date, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from app.config import Settings
from app.db import Database
from app.kit.clocks import Clock, Now, monotonic, utc_now
from app.models import SalesforceApiCalls, SalesforceApiUsage
from app.salesforce.errors import RequestLimitExceeded
from app.salesforce.hooks import CallRecord

logger = logging.getLogger("app.workspace.budget")

PURPOSES = ("lookup", "edit", "create", "activity", "autocreate", "token", "describe")
WINDOW_SECONDS = 86_400.0
CONCURRENT_RETRY_SECONDS = 5.0
MIN_RETRY_SECONDS = 30.0
PROBE_AFTER_SECONDS = 300.0
# How long a replica trusts the usage it read from the database (or saw itself).
REFRESH_SECONDS = 5.0
COUNTS_RETENTION_DAYS = 35

CALLS_BY_PURPOSE = Counter(
    "salesforce_api_calls_by_purpose_total",
    "Salesforce calls made by this service, by purpose (all workspaces together)",
    ["purpose"],
)
BUDGET_REFUSALS = Counter(
    "salesforce_api_budget_refusals_total",
    "Salesforce calls not made to spare the org's API allocation, by reason",
    ["reason"],
)


class ApiBudgetExceeded(RequestLimitExceeded):
    """Raised before a call: the org is above the foreground threshold (or Salesforce asked
    for a pause). Never sent to Salesforce; `retry_after` is set."""

    error_code = "API_BUDGET_EXCEEDED"


@dataclass(frozen=True, slots=True)
class Usage:
    used: int
    limit: int
    measured_at: datetime

    @property
    def ratio(self) -> float:
        return self.used / self.limit if self.limit > 0 else 1.0


def retry_after_seconds(used: int, limit: int, threshold: float) -> int:
    """Seconds until the rolling 24 h window has freed enough calls to be under
    `threshold * limit`, at the average rate the window frees them (`used / 86400`)."""
    if used <= 0 or limit <= 0:
        return int(MIN_RETRY_SECONDS)
    seconds = WINDOW_SECONDS * (1.0 - threshold * limit / used)
    return int(min(WINDOW_SECONDS, max(MIN_RETRY_SECONDS, seconds)))


@dataclass(eq=False, repr=False)
class ApiBudget:
    db: Database
    settings: InitVar[Settings]
    _: KW_ONLY
    clock: Clock = monotonic
    now: Now = utc_now
    background_max: float = field(init=False)
    foreground_max: float = field(init=False)
    _flush_seconds: float = field(init=False)
    _counts: dict[tuple[str, date, str], int] = field(init=False, default_factory=dict)
    _seen: dict[str, Usage] = field(init=False, default_factory=dict)  # measured, not yet written
    # (usage, when this process learnt it)
    _known: dict[str, tuple[Usage, float]] = field(init=False, default_factory=dict)
    _concurrent_until: dict[str, float] = field(init=False, default_factory=dict)
    _flushing: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _task: asyncio.Task[None] | None = field(init=False, default=None)
    _last_prune: date | None = field(init=False, default=None)

    def __post_init__(self, settings: Settings) -> None:
        self.background_max = settings.salesforce_api_background_max_usage
        self.foreground_max = settings.salesforce_api_foreground_max_usage
        self._flush_seconds = settings.api_usage_flush_seconds

    # -- measure (the CallObserver; synchronous, no I/O) ---------------------------------------

    def on_call(self, call: CallRecord) -> None:
        self.count(call.workspace_id, call.purpose)
        organization_id, api_usage, error = call.organization_id, call.api_usage, call.error
        if organization_id is None:
            return
        if isinstance(error, RequestLimitExceeded):
            if error.concurrent:
                self._concurrent_until[organization_id] = self.clock() + CONCURRENT_RETRY_SECONDS
                error.retry_after = CONCURRENT_RETRY_SECONDS
            else:
                # The daily allocation is spent, whatever the header said.
                limit = api_usage[1] if api_usage else self._limit_of(organization_id)
                if limit > 0:
                    api_usage = (max(api_usage[0] if api_usage else 0, limit), limit)
                used, known_limit = api_usage or (1, 1)
                error.retry_after = retry_after_seconds(used, known_limit, self.foreground_max)
        if api_usage is not None and api_usage[1] > 0:
            usage = Usage(api_usage[0], api_usage[1], self.now())
            self._seen[organization_id] = usage
            self._known[organization_id] = (usage, self.clock())

    def count(self, workspace_id: str | None, purpose: str, calls: int = 1) -> None:
        """Count calls made for a workspace (also those the client does not make, e.g. the
        OAuth token endpoint's)."""
        CALLS_BY_PURPOSE.labels(purpose).inc(calls)
        if workspace_id:
            key = (workspace_id, self.now().date(), purpose)
            self._counts[key] = self._counts.get(key, 0) + calls

    def _limit_of(self, organization_id: str) -> int:
        known = self._known.get(organization_id)
        return known[0].limit if known else 0

    # -- read ----------------------------------------------------------------------------------

    async def usage(self, organization_id: str) -> Usage | None:
        """The org's latest usage as measured by any process (a few seconds' delay)."""
        known = self._known.get(organization_id)
        if known is not None and self.clock() - known[1] < REFRESH_SECONDS:
            return known[0]
        async with self.db.transaction() as session:
            row = await session.get(SalesforceApiUsage, organization_id)
        stored = Usage(row.used, row.api_limit, row.measured_at) if row is not None else None
        pending = self._seen.get(organization_id)
        candidates = [u for u in (stored, pending, known[0] if known else None) if u is not None]
        if not candidates:
            return None
        latest = max(candidates, key=lambda u: u.measured_at)
        self._known[organization_id] = (latest, self.clock())
        return latest

    async def background_allowed(self, organization_id: str) -> bool:
        """May work nobody asked for (reconciliation, token keep-alive) spend this org's
        calls now? False while the org is above SALESFORCE_API_BACKGROUND_MAX_USAGE."""
        usage = await self.usage(organization_id)
        if usage is None or usage.ratio < self.background_max or self._probe_due(usage):
            return True
        BUDGET_REFUSALS.labels("background_paused").inc()
        return False

    async def pause_reason(self, organization_id: str) -> str | None:
        """Why background work for this org is paused, or None when it may run."""
        if await self.background_allowed(organization_id):
            return None
        usage = await self.usage(organization_id)
        assert usage is not None
        return (
            f"paused: the Salesforce org has used {usage.used} of its {usage.limit} daily API "
            f"requests ({usage.ratio:.0%}), above the {self.background_max:.0%} left to "
            "background work; resumes by itself when usage drops"
        )

    async def check_foreground(self, organization_id: str) -> None:
        """Raise ApiBudgetExceeded when a call asked for by a person should not be made."""
        until = self._concurrent_until.get(organization_id, 0.0)
        if until > self.clock():
            BUDGET_REFUSALS.labels("concurrent_limit").inc()
            raise self._exceeded(max(1.0, until - self.clock()))
        usage = await self.usage(organization_id)
        if usage is None or usage.ratio < self.foreground_max or self._probe_due(usage):
            return
        BUDGET_REFUSALS.labels("foreground_limited").inc()
        raise self._exceeded(retry_after_seconds(usage.used, usage.limit, self.foreground_max))

    def _probe_due(self, usage: Usage) -> bool:
        return (self.now() - usage.measured_at).total_seconds() >= PROBE_AFTER_SECONDS

    @staticmethod
    def _exceeded(retry_after: float) -> ApiBudgetExceeded:
        error = ApiBudgetExceeded("the org's API allocation is kept for other work", status=0)
        error.retry_after = retry_after
        return error

    async def summary(self, workspace_id: str, organization_id: str) -> dict[str, object] | None:
        """docs/api.md `api_usage`: the org's usage and this workspace's calls today."""
        await self.flush()
        usage = await self.usage(organization_id)
        if usage is None:
            return None
        async with self.db.transaction() as session:
            rows = await session.execute(
                select(SalesforceApiCalls.purpose, SalesforceApiCalls.calls).where(
                    SalesforceApiCalls.workspace_id == workspace_id,
                    SalesforceApiCalls.day == self.now().date(),
                )
            )
        today = dict.fromkeys(PURPOSES, 0)
        for purpose, calls in rows:
            if purpose in today:
                today[purpose] = int(calls)
        return {
            "used": usage.used,
            "limit": usage.limit,
            "measured_at": usage.measured_at,
            "by_purpose_today": today,
        }

    # -- write -----------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write what was measured and counted since the last flush (one statement each)."""
        async with self._flushing:
            counts, self._counts = self._counts, {}
            seen, self._seen = self._seen, {}
            if not counts and not seen:
                return
            try:
                await self._write(counts, seen)
            except Exception:
                for key, calls in counts.items():  # keep them for the next flush
                    self._counts[key] = self._counts.get(key, 0) + calls
                for org, usage in seen.items():
                    self._seen.setdefault(org, usage)
                raise

    async def _write(
        self, counts: dict[tuple[str, date, str], int], seen: dict[str, Usage]
    ) -> None:
        async with self.db.transaction() as session:
            if counts:
                statement = insert(SalesforceApiCalls).values(
                    [
                        {"workspace_id": w, "day": d, "purpose": p, "calls": n}
                        for (w, d, p), n in sorted(counts.items())
                    ]
                )
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["workspace_id", "day", "purpose"],
                        set_={"calls": SalesforceApiCalls.calls + statement.excluded.calls},
                    )
                )
            if seen:
                statement = insert(SalesforceApiUsage).values(
                    [
                        {
                            "organization_id": org,
                            "used": u.used,
                            "api_limit": u.limit,
                            "measured_at": u.measured_at,
                        }
                        for org, u in sorted(seen.items())
                    ]
                )
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["organization_id"],
                        set_={
                            "used": statement.excluded.used,
                            "api_limit": statement.excluded.api_limit,
                            "measured_at": statement.excluded.measured_at,
                        },
                        where=SalesforceApiUsage.measured_at <= statement.excluded.measured_at,
                    )
                )
            today = self.now().date()
            if self._last_prune != today:
                self._last_prune = today
                cutoff = today - timedelta(days=COUNTS_RETENTION_DAYS)
                await session.execute(
                    delete(SalesforceApiCalls).where(SalesforceApiCalls.day < cutoff)
                )

    def start(self) -> None:
        """Flush every API_USAGE_FLUSH_SECONDS until `stop()`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - counting must never stop the service
                logger.warning("salesforce.usage.flush_failed", extra={"error": type(exc).__name__})

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()
