"""The worker's change streams: every tick (a third of the lease) renew this worker's leases,
take or give up orgs toward its fair share (app.stream.leases), start a stream for each org
it holds and stop the others. `stop()` (SIGTERM) ends every stream and releases its orgs at
once, so another worker takes them on its next tick."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from app.stream.leases import Leases
from app.stream.subscriber import OrgStream, StreamDeps

logger = logging.getLogger("app.stream")


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class StreamManager:
    def __init__(self, deps: StreamDeps) -> None:
        self.deps = deps
        lease_seconds = deps.settings.change_stream_lease_seconds
        self.leases = Leases(deps.db, deps.worker_id, lease_seconds)
        self.tick_seconds = max(0.05, lease_seconds / 3)
        self.streams: dict[str, OrgStream] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def held(self) -> set[str]:
        return set(self._tasks)

    async def run(self, stop: asyncio.Event) -> None:
        logger.info("stream.manager.started", extra={"worker_id": self.deps.worker_id})
        try:
            while not stop.is_set():
                try:
                    await self._tick()
                except Exception as exc:  # noqa: BLE001 - e.g. a database outage: try again
                    logger.warning(
                        "stream.manager.tick_failed",
                        extra={"error": type(exc).__name__, "detail": str(exc)[:300]},
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick_seconds)
        finally:
            await self._stop_all()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.leases.release(None), 5)
            logger.info("stream.manager.stopped", extra={"worker_id": self.deps.worker_id})

    async def _tick(self) -> None:
        held, _released = await self.leases.tick()
        for org in [o for o, t in self._tasks.items() if o not in held or t.done()]:
            await self._stop(org)
        for org in sorted(held - set(self._tasks)):
            stream = OrgStream(org, self.deps)
            self.streams[org] = stream
            self._tasks[org] = asyncio.create_task(stream.run(), name=f"stream-{org}")

    async def _stop(self, org: str) -> None:
        task = self._tasks.pop(org, None)
        self.streams.pop(org, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _stop_all(self) -> None:
        for org in list(self._tasks):
            await self._stop(org)
