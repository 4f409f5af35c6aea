"""Who holds which org's change stream: leases in PostgreSQL.

One row per org with a connected workspace (`change_streams`). A worker holds an org while
its `lease_until` is ahead; it renews its leases every third of CHANGE_STREAM_LEASE_SECONDS,
so when it dies another worker claims the org within a lease and a tick. Workers heart-beat
in `change_stream_workers`; each aims at its fair share (orgs / live workers, rounded up):
it releases the excess (a third worker arriving takes a share this way) and claims unheld
orgs up to its share, `FOR UPDATE SKIP LOCKED` so two workers never claim the same one.

Every write of a stream (replay id, health) is fenced by `owner = me`: a worker that lost its
lease (paused too long) writes nothing, and its batch transaction rolls back.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import text

from app.db import Database
from app.models import ConnectionStatus
from app.workspace.stream_state import payloads, send

WORKER_TIMEOUT_FACTOR = 2  # a worker unseen for this many leases is gone


class Leases:
    def __init__(self, db: Database, worker_id: str, lease_seconds: float) -> None:
        self.db = db
        self.worker_id = worker_id
        self.lease = timedelta(seconds=lease_seconds)

    async def tick(self) -> tuple[set[str], set[str]]:
        """Heart-beat, renew, rebalance. Returns (orgs held now, orgs to stop)."""
        me = self.worker_id
        async with self.db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO change_stream_workers (worker_id, seen_at) VALUES (:me, now()) "
                    "ON CONFLICT (worker_id) DO UPDATE SET seen_at = now()"
                ),
                {"me": me},
            )
            await session.execute(
                text(
                    "DELETE FROM change_stream_workers "
                    "WHERE seen_at < now() - CAST(:gone AS interval)"
                ),
                {"gone": self.lease * WORKER_TIMEOUT_FACTOR},
            )
            await session.execute(
                text(
                    "INSERT INTO change_streams (organization_id) "
                    "SELECT DISTINCT organization_id FROM salesforce_connections "
                    "WHERE status = :connected ON CONFLICT (organization_id) DO NOTHING"
                ),
                {"connected": ConnectionStatus.CONNECTED.value},
            )
            await session.execute(
                text(
                    "DELETE FROM change_streams s WHERE NOT EXISTS (SELECT 1 FROM "
                    "salesforce_connections c WHERE c.organization_id = s.organization_id "
                    "AND c.status = :connected)"
                ),
                {"connected": ConnectionStatus.CONNECTED.value},
            )
        async with self.db.transaction() as session:
            held = {
                str(r[0])
                for r in await session.execute(
                    text(
                        "UPDATE change_streams SET lease_until = now() + CAST(:lease AS interval) "
                        "WHERE owner = :me AND lease_until > now() RETURNING organization_id"
                    ),
                    {"me": me, "lease": self.lease},
                )
            }
            total = int(
                (await session.execute(text("SELECT count(*) FROM change_streams"))).scalar_one()
            )
            workers = int(
                (
                    await session.execute(text("SELECT count(*) FROM change_stream_workers"))
                ).scalar_one()
            )
        share = math.ceil(total / max(1, workers))
        released: set[str] = set()
        if len(held) > share:
            excess = sorted(held)[share:]
            released = await self.release(excess)
            held -= released
        elif len(held) < share:
            held |= await self._claim(share - len(held))
        return held, released

    async def _claim(self, count: int) -> set[str]:
        async with self.db.transaction() as session:
            rows = await session.execute(
                text(
                    "UPDATE change_streams SET owner = :me, "
                    "lease_until = now() + CAST(:lease AS interval), state = 'connecting', "
                    "reason = NULL, healthy_since = NULL "
                    "WHERE organization_id IN (SELECT organization_id FROM change_streams "
                    "WHERE lease_until IS NULL OR lease_until <= now() "
                    "ORDER BY lease_until NULLS FIRST, organization_id "
                    "LIMIT :count FOR UPDATE SKIP LOCKED) RETURNING organization_id"
                ),
                {"me": self.worker_id, "lease": self.lease, "count": count},
            )
            return {str(r[0]) for r in rows}

    async def release(self, organization_ids: list[str] | None = None) -> set[str]:
        """Give up these orgs (all of this worker's when None) at once: another worker may
        claim them on its next tick."""
        async with self.db.transaction() as session:
            rows = await session.execute(
                text(
                    "UPDATE change_streams SET owner = NULL, lease_until = NULL, "
                    "state = 'connecting', healthy_since = NULL WHERE owner = :me "
                    "AND (CAST(:all AS boolean) OR organization_id = ANY(:ids)) "
                    "RETURNING organization_id"
                ),
                {
                    "me": self.worker_id,
                    "all": organization_ids is None,
                    "ids": organization_ids or [],
                },
            )
            released = {str(r[0]) for r in rows}
            if released:  # the API processes drop those orgs' longer TTL at once
                await send(session, payloads("", [], health=True))
            if organization_ids is None:
                await session.execute(
                    text("DELETE FROM change_stream_workers WHERE worker_id = :me"),
                    {"me": self.worker_id},
                )
            return released
