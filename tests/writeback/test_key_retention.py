"""Idempotency keys are honoured for 24 hours (a request that brings an older one starts
afresh); the worker removes them after that, so the table holds a day of creates, not every
create ever made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.config import Settings
from app.models import WritebackIdempotencyKey
from tests.helpers.autocreate import running_worker, wait_until


async def keys(app: Any) -> set[str]:
    async with app.state.services.db.transaction() as session:
        return set((await session.scalars(select(WritebackIdempotencyKey.key))).all())


async def test_the_worker_removes_keys_past_their_day_and_keeps_the_rest(
    app: Any, settings: Settings
) -> None:
    now = datetime.now(UTC)
    async with app.state.services.db.transaction() as session:
        for key, age in (("old", 25), ("day-old", 24.1), ("recent", 23), ("new", 0)):
            session.add(
                WritebackIdempotencyKey(
                    workspace_id="ws-1",
                    key=key,
                    request_hash="0" * 64,
                    sobject="Contact",
                    status="done",
                    response={"id": "0035g0000006SevAAE"},
                    created_at=now - timedelta(hours=age),
                    attempt_started_at=now - timedelta(hours=age),
                )
            )

    async with running_worker(settings, jobs=False):

        async def pruned() -> bool:
            return "old" not in await keys(app)

        await wait_until(pruned)

    assert await keys(app) == {"recent", "new"}
