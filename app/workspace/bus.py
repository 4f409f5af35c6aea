"""Cache invalidation across replicas over Redis pub/sub.

The lookup answers live in Redis, so deleting them there is seen by every replica. What each
replica still keeps in process (the workspace's connection+settings snapshot, the Contact
describe, loads in flight) is dropped when any replica purges the workspace: the purging
replica publishes `{workspace, generation}` on one channel and every replica, subscribed for
its whole lifespan, drops its own copies.

Pub/sub is at-most-once: a replica cut off from Redis misses messages. It then still answers
lookups correctly, because every lookup reads the workspace's generation from Redis and
reloads its snapshot when the generation moved (see app.workspace.redis_cache); the other
in-process copies expire within their TTLs (`CONTEXT_TTL_SECONDS`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

from prometheus_client import Counter
from redis.asyncio import Redis

from app.workspace.redis_wire import LOG_INTERVAL_SECONDS, REDIS_ERRORS, REDIS_FAILURES

logger = logging.getLogger("app.cache_bus")

BUS_MESSAGES = Counter(
    "cache_bus_messages_total", "Invalidation messages on the cache bus", ["direction"]
)
RESUBSCRIBE_SECONDS = 1.0

OnPurge = Callable[[str, int], None]
# (workspace, contact id or None for every answer of the workspace)
OnChange = Callable[[str, str | None], None]


@dataclass(eq=False, repr=False)
class CacheBus:
    # `redis` should be a client without a short socket timeout: the subscription idles.
    redis: Redis
    channel: str
    on_purge: OnPurge
    _: KW_ONLY
    on_change: OnChange | None = None
    # Called whenever the subscription is (re)established: messages sent while it was
    # down are lost, so copies that rely on them must be dropped.
    on_subscribed: Callable[[], None] | None = None
    _origin: str = field(init=False, default_factory=lambda: uuid.uuid4().hex)
    _task: asyncio.Task[None] | None = field(init=False, default=None)
    _subscribed: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _listening: bool = field(init=False, default=False)
    _logged_at: float = field(init=False, default=-LOG_INTERVAL_SECONDS)
    received: int = field(init=False, default=0)  # messages from other replicas handled so far
    _arrived: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    @property
    def listening(self) -> bool:
        """Subscribed now: changes published by other replicas reach this one."""
        return self._listening

    async def start(self, *, wait_seconds: float = 1.0) -> None:
        """Subscribe in the background; wait briefly so that a replica which has just started
        does not miss a purge (it starts serving regardless if Redis is away)."""
        self._task = asyncio.create_task(self._listen(), name="cache-bus")
        try:
            await asyncio.wait_for(self._subscribed.wait(), wait_seconds)
        except TimeoutError:
            pass

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.redis.aclose()

    async def publish(self, workspace_id: str, generation: int) -> None:
        await self._send({"w": workspace_id, "g": generation})

    async def until_received(self, count: int) -> None:
        """Until `received` reaches `count` (tests wait for a delivery with this)."""
        while self.received < count:
            self._arrived.clear()
            await self._arrived.wait()

    async def publish_change(self, workspace_id: str, contact_id: str | None) -> None:
        """A change to cached answers other than a purge: one contact's, or (None) any of the
        workspace's. Receivers drop their in-process copies (app.workspace.near_cache)."""
        await self._send({"w": workspace_id, "c": contact_id})

    async def _send(self, fields: dict[str, object]) -> None:
        """What both publish methods send: the fields and this replica's origin."""
        message = json.dumps({**fields, "o": self._origin})
        try:
            await self.redis.publish(self.channel, message)
            BUS_MESSAGES.labels("sent").inc()
        except REDIS_FAILURES as exc:
            self._unavailable("publish", exc)

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._listening = True
                if self.on_subscribed is not None:
                    self.on_subscribed()
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is not None:
                        self._received(message.get("data"))
            except asyncio.CancelledError:
                raise
            except REDIS_FAILURES as exc:
                self._unavailable("subscribe", exc)
            finally:
                self._listening = False
                try:
                    await pubsub.aclose()
                except REDIS_FAILURES:
                    pass
            await asyncio.sleep(RESUBSCRIBE_SECONDS)

    def _received(self, data: object) -> None:
        try:
            message = json.loads(data)  # type: ignore[arg-type]
            workspace_id = str(message["w"])
            generation = int(message["g"]) if "g" in message else None
            contact = message.get("c")
            contact_id = str(contact) if contact else None
        except (TypeError, ValueError, KeyError):
            logger.warning("cache.bus.malformed_message")
            return
        if message.get("o") == self._origin:
            return  # this replica changed its own copies before publishing
        BUS_MESSAGES.labels("received").inc()
        if generation is not None:
            self.on_purge(workspace_id, generation)
        elif self.on_change is not None:
            self.on_change(workspace_id, contact_id)
        self.received += 1
        self._arrived.set()

    def _unavailable(self, operation: str, exc: BaseException) -> None:
        REDIS_ERRORS.labels(f"bus_{operation}").inc()
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL_SECONDS:
            self._logged_at = now
            logger.warning(
                "cache.redis.unavailable",
                extra={"operation": f"bus_{operation}", "error": type(exc).__name__},
            )
