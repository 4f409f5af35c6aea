"""What a write asks before it spends the org's Salesforce calls (docs/api-allocation.md).

Every Salesforce-calling write (an edit, a revert, a create, an activity) calls
`WriteGate.admit(context)` once, after its own checks and before its first Salesforce call
(feature services do it through `WorkspaceService._before_write`):

- above `SALESFORCE_API_FOREGROUND_MAX_USAGE` of the org's daily allocation it raises
  `ApiBudgetExceeded`, which every feature answers as 503 `salesforce_rate_limited` with a
  `Retry-After` derived from the allocation (as a lookup miss with no stale answer);
- past the workspace's `SALESFORCE_WRITE_RATE_PER_WORKSPACE` (per second on average, up to
  `SALESFORCE_WRITE_BURST_PER_WORKSPACE` at once) it raises 429 `too_many_requests` with
  `Retry-After`. The limiter is the lookup miss limiter's (a GCRA in Redis with CACHE_URL, so
  it holds across replicas; in-process otherwise), under its own key.

A write that needs no call (a replayed `Idempotency-Key`, a no-op edit answered from a fresh
cached read) does not ask, and so is never refused.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from app.errors import TooManyRequests
from app.workspace.budget import BUDGET_REFUSALS, ApiBudget
from app.workspace.context import WorkspaceContext
from app.workspace.miss_limit import MissLimiter

logger = logging.getLogger("app.workspace.write_gate")

WRITE_RATE_DETAIL = (
    "This workspace is writing to Salesforce faster than its share of the org's API "
    "allocation allows (SALESFORCE_WRITE_RATE_PER_WORKSPACE). Nothing was written. Try again "
    "after Retry-After seconds."
)


@dataclass(frozen=True, slots=True)
class WriteGate:
    budget: ApiBudget
    limiter: MissLimiter

    async def admit(self, context: WorkspaceContext) -> None:
        """Return when the write may call Salesforce; raise when it must not."""
        if context.organization_id:
            await self.budget.check_foreground(context.organization_id)
        wait = await self.limiter.acquire(context.workspace_id)
        if wait > 0:
            BUDGET_REFUSALS.labels("write_rate").inc()
            logger.info(
                "workspace.write_rate.limited",
                extra={"workspace_id": context.workspace_id, "retry_after": wait},
            )
            raise TooManyRequests(
                WRITE_RATE_DETAIL, headers={"Retry-After": str(max(1, math.ceil(wait)))}
            )
