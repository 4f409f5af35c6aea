"""Steps the change-stream tests share: the org's stream row, waits on it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.models_stream import ChangeStream
from tests.helpers.autocreate import ACME, wait_until


async def stream_row(app: Any, org: str = ACME) -> ChangeStream | None:
    async with app.state.services.db.transaction() as session:
        return (
            await session.scalars(select(ChangeStream).where(ChangeStream.organization_id == org))
        ).first()


async def wait_for_state(app: Any, state: str, org: str = ACME, timeout: float = 30.0) -> None:
    async def reached() -> bool:
        row = await stream_row(app, org)
        return row is not None and row.state == state and row.owner is not None

    await wait_until(reached, timeout=timeout)


async def wait_for_events(app: Any, count: int, org: str = ACME, timeout: float = 30.0) -> None:
    """Until the org's stream has processed `count` events (committed with their replay id)."""

    async def processed() -> bool:
        row = await stream_row(app, org)
        return row is not None and row.events >= count

    await wait_until(processed, timeout=timeout)
