"""What the API processes know of the change streams (app/stream runs them in the workers),
learnt through PostgreSQL alone so that it works without Redis:

- record changes: the worker's batch transaction sends `NOTIFY sfint_change_stream` with the
  org's workspaces and the changed records' ids and identifiers; PostgreSQL delivers it at
  commit, and every API process drops those cached lookup answers (`StreamListener`). Replicas
  without a shared cache send the changes they make themselves on the same channel
  (app.workspace.peer_changes);
- field changes: a batch whose events carry a new schema id (a field added to Contact, say)
  says so (`"d": true`), and every API process forgets the describes of the org's workspaces
  (`on_describes_changed`), so the field shows on the next request, not after the describe's
  TTL;
- stream health: which workspaces' orgs stream now (re-read on every health message, on
  every (re)connection of the listener and every HEALTH_REFRESH_SECONDS), so that their
  lookup answers live LOOKUP_CACHE_TTL_STREAMING_SECONDS (`StreamHealth.ttl_for`);
- `change_stream` of the connection object (`view_of`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import Database
from app.models_stream import DISABLED, STREAMING, UNAVAILABLE, ChangeStream
from app.workspace.lookup_cache import LookupCache

logger = logging.getLogger("app.stream.listener")

CHANNEL = "sfint_change_stream"
HEALTH_REFRESH_SECONDS = 30.0
RECONNECT_SECONDS = 1.0
_PAYLOAD_LIMIT = 7000  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more


def payloads(
    organization_id: str,
    workspaces: list[str],
    record_ids: Iterable[str] = (),
    identifiers: Iterable[str] = (),
    *,
    purge: bool = False,
    health: bool = False,
    describes: bool = False,
    sender: str | None = None,
) -> list[str]:
    """The NOTIFY payloads for one batch's changes, each under PostgreSQL's limit. `sender`:
    the process that made the changes itself (app.workspace.peer_changes), which skips them."""
    out: list[str] = []
    items = [("c", r) for r in record_ids] + [("i", i) for i in identifiers]
    base: dict[str, Any] = {"o": organization_id, "w": workspaces, "p": purge, "h": health}
    if describes:
        base["d"] = True  # only when set: processes of an older release ignore it anyway
    if sender is not None:
        base["s"] = sender
    current: dict[str, list[str]] = {"c": [], "i": []}
    for kind, value in items:
        current[kind].append(value)
        if len(json.dumps({**base, **current})) > _PAYLOAD_LIMIT:
            current[kind].pop()
            out.append(json.dumps({**base, **current}))
            current = {"c": [], "i": []}
            current[kind].append(value)
    if current["c"] or current["i"] or purge or health or describes or not out:
        out.append(json.dumps({**base, **current}))
    return out


async def send(session: AsyncSession, messages: Iterable[str]) -> None:
    """NOTIFY CHANNEL with each of `messages` (from `payloads`); PostgreSQL delivers them
    when the session's transaction commits."""
    for payload in messages:
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )


@dataclass(frozen=True, slots=True)
class StreamView:
    state: str
    reason: str | None
    last_event_at: datetime | None


async def view_of(db: Database, organization_id: str | None, settings: Settings) -> StreamView:
    """The org's `change_stream` as the connection object shows it."""
    if not settings.change_stream_enabled:
        return StreamView(DISABLED, "CHANGE_STREAM_ENABLED is false", None)
    if not organization_id:
        return StreamView(UNAVAILABLE, "not connected", None)
    async with db.transaction() as session:
        row = await session.get(ChangeStream, organization_id)
    if row is None:
        return StreamView(UNAVAILABLE, "waiting for a worker to subscribe", None)
    state = row.state if row.state in (STREAMING, UNAVAILABLE) else UNAVAILABLE
    reason = row.reason if state == UNAVAILABLE else None
    if row.state != STREAMING and not row.reason:
        reason = "connecting"
    return StreamView(state, reason, row.last_event_at)


async def streaming_since(db: Database, organization_id: str) -> datetime | None:
    """Since when the org's change stream has been healthy without a break (None: it is not)."""
    async with db.transaction() as session:
        value = (
            await session.execute(
                text(
                    "SELECT healthy_since FROM change_streams WHERE organization_id = :org "
                    "AND state = :streaming AND lease_until > now()"
                ),
                {"org": organization_id, "streaming": STREAMING},
            )
        ).scalar()
    return value if isinstance(value, datetime) else None


async def streaming_workspaces(db: Database) -> set[str]:
    async with db.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT c.workspace_id FROM salesforce_connections c "
                "JOIN change_streams s ON s.organization_id = c.organization_id "
                "WHERE s.state = :streaming AND s.lease_until > now()"
            ),
            {"streaming": STREAMING},
        )
        return {str(r[0]) for r in rows}


@dataclass(eq=False)
class StreamHealth:
    """The workspaces whose org streams now; the lookup cache asks `ttl_for` on every read."""

    settings: Settings
    streaming: set[str] = field(default_factory=set)

    def ttl_for(self, workspace_id: str) -> float:
        if workspace_id in self.streaming:
            return self.settings.lookup_cache_ttl_streaming_seconds
        return self.settings.lookup_cache_ttl_seconds

    def describe_ttl_for(self, workspace_id: str) -> float:
        if workspace_id in self.streaming:
            return self.settings.fields_cache_ttl_streaming_seconds
        return self.settings.fields_cache_ttl_seconds

    def is_streaming(self, workspace_id: str) -> bool:
        """The org's stream is healthy: its changes reach the cached answers within seconds."""
        return workspace_id in self.streaming


@dataclass(eq=False)
class StreamListener:
    """LISTENs on CHANNEL for the process's lifespan and applies what arrives to `lookups`
    (and field changes to `on_describes_changed`, given a workspace id)."""

    dsn: str
    db: Database
    lookups: LookupCache
    health: StreamHealth
    on_describes_changed: Callable[[str], None] | None = None
    # This process's name in the messages it sends itself (app.workspace.peer_changes).
    sender: str | None = None
    received: int = 0  # messages applied so far
    changes: int = 0  # of which record or field changes, or purges (not health alone)
    _task: asyncio.Task[None] | None = None
    _queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    _listening: asyncio.Event = field(default_factory=asyncio.Event)
    _arrivals: asyncio.Event = field(default_factory=asyncio.Event)

    async def until_changes(self, count: int) -> None:
        """Until `changes` reaches `count` (tests wait for a delivery with this)."""
        while self.changes < count:
            self._arrivals.clear()
            await self._arrivals.wait()

    async def start(self, wait_seconds: float = 2.0) -> None:
        self._task = asyncio.create_task(self._run(), name="change-stream-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), wait_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self.dsn, timeout=10)
                await connection.add_listener(CHANNEL, self._arrived)
                await self._refresh_health()
                self._listening.set()
                while True:
                    try:
                        payload = await asyncio.wait_for(self._queue.get(), HEALTH_REFRESH_SECONDS)
                    except TimeoutError:
                        await self._refresh_health()
                        continue
                    await self._apply(payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the listener outlives database outages
                logger.warning("stream.listener.failed", extra={"error": type(exc).__name__})
            finally:
                self._listening.clear()
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), 5)
            await asyncio.sleep(RECONNECT_SECONDS)

    def _arrived(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._queue.put_nowait(payload)

    async def _refresh_health(self) -> None:
        self.health.streaming = await streaming_workspaces(self.db)

    async def _apply(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            workspaces = [str(w) for w in message["w"]]
            ids = [str(c) for c in message.get("c") or ()]
            identifiers = frozenset(str(i) for i in message.get("i") or ())
        except (ValueError, KeyError, TypeError):
            logger.warning("stream.listener.malformed_message")
            return
        if message.get("h"):
            await self._refresh_health()
        if message.get("d") and self.on_describes_changed is not None:
            for workspace_id in workspaces:
                self.on_describes_changed(workspace_id)
        if self.sender is not None and message.get("s") == self.sender:
            return  # this process's own change, applied when it was made
        for workspace_id in workspaces:
            if message.get("p"):
                await self.lookups.purge_workspace(workspace_id)
                continue
            for record_id in ids:
                await self.lookups.invalidate_contact(workspace_id, record_id)
            if identifiers:
                await self.lookups.forget_identifiers(workspace_id, identifiers)
        if ids or identifiers or message.get("p") or message.get("d"):
            self.changes += 1
        self.received += 1
        self._arrivals.set()


async def connected_workspaces(db: Database, organization_id: str) -> list[str]:
    from app.models import Connection, ConnectionStatus

    async with db.transaction() as session:
        rows = await session.scalars(
            select(Connection.workspace_id).where(
                Connection.organization_id == organization_id,
                Connection.status == ConnectionStatus.CONNECTED.value,
            )
        )
        return sorted(rows)
