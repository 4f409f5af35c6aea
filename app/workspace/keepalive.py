"""Quiet workspaces stay connected: Salesforce ends a refresh token that has not been used
for N days (the org's refresh-token policy; 30 by default), so a workspace nobody looked up
for a month would silently need reconnecting. The worker (`python -m app.worker`) calls
`KeepAlive.tick()` every minute; each tick claims the connections not refreshed for
`SALESFORCE_KEEPALIVE_HOURS` (one UPDATE ... RETURNING across all replicas, see
`repository.claim_keepalive`) and refreshes each once through `TokenStore.keep_alive`, which
shares the single flight and advisory lock of every other refresh and re-checks under the
lock, so two workers never refresh one connection twice. A connection is marked
`reauthorization_required` only when Salesforce says its grant is dead (app.workspace.tokens).
"""

from __future__ import annotations

import logging
from dataclasses import KW_ONLY, InitVar, dataclass, field
from datetime import timedelta

from app.config import Settings
from app.db import Database
from app.kit.clocks import Now, utc_now
from app.salesforce.errors import ReauthorizationRequired, SalesforceError
from app.workspace import repository
from app.workspace.budget import ApiBudget
from app.workspace.tokens import TokenStore

logger = logging.getLogger("app.workspace.keepalive")

TICK_SECONDS = 60.0
# A claim whose worker died is taken again after this long.
CLAIM_SECONDS = 600.0
BATCH = 50


@dataclass(eq=False, repr=False)
class KeepAlive:
    db: Database
    tokens: TokenStore
    settings: InitVar[Settings]
    _: KW_ONLY
    now: Now = utc_now
    budget: ApiBudget | None = None
    _every: timedelta = field(init=False)

    def __post_init__(self, settings: Settings) -> None:
        self._every = timedelta(hours=settings.salesforce_keepalive_hours)

    async def may_run(self, organization_id: str) -> bool:
        """Whether background work may spend the org's API requests now: the one place the
        keep-alive asks. False while the org is above SALESFORCE_API_BACKGROUND_MAX_USAGE
        (app.workspace.budget); the refresh is tried again once the claim runs out."""
        return self.budget is None or await self.budget.background_allowed(organization_id)

    async def tick(self) -> int:
        """Refresh every connection that is due; how many were refreshed."""
        refreshed = 0
        while True:
            now = self.now()
            claimed = await repository.claim_keepalive(
                self.db,
                refreshed_before=now - self._every,
                claimed_before=now - timedelta(seconds=CLAIM_SECONDS),
                now=now,
                limit=BATCH,
            )
            for workspace_id, organization_id in claimed:
                if await self._keep(workspace_id, organization_id):
                    refreshed += 1
            if len(claimed) < BATCH:
                return refreshed

    async def _keep(self, workspace_id: str, organization_id: str) -> bool:
        log = {"workspace_id": workspace_id, "organization_id": organization_id}
        if not await self.may_run(organization_id):
            logger.info("salesforce.keepalive.paused", extra=log)
            return False
        try:
            done = await self.tokens.keep_alive(workspace_id, self.now() - self._every)
        except ReauthorizationRequired as exc:
            logger.warning("salesforce.keepalive.grant_dead", extra={**log, "reason": exc.reason})
            return False
        except SalesforceError as exc:
            # Salesforce unreachable, rate-limited, login restricted...: the connection is
            # kept and tried again once the claim runs out.
            logger.warning(
                "salesforce.keepalive.failed",
                extra={**log, "error": type(exc).__name__, "error_code": exc.error_code},
            )
            return False
        except Exception as exc:  # noqa: BLE001 - one workspace must not stop the others
            logger.exception(
                "salesforce.keepalive.error", extra={**log, "error": type(exc).__name__}
            )
            return False
        if done:
            logger.info("salesforce.keepalive.refreshed", extra=log)
        return done
