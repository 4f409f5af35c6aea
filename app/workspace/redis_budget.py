"""Every Redis operation is bounded by CACHE_TIMEOUT_SECONDS, and a request spends at most
that on Redis in total (contract 10.11): a Redis that accepts connections but never answers
costs a request one timeout, not one per operation.

`RedisBudgetMiddleware` gives each HTTP request its budget (a context variable, so tasks the
request starts share it); `BoundedRedis` (the client every cache part uses) runs each command
within what is left of it. Outside a request (workers, start-up) each command gets the whole
timeout. A spent budget fails the command at once with `RedisBudgetSpent`, a RedisError, so
callers treat it like Redis being away: answered without the shared cache.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send


class RedisBudgetSpent(RedisError):
    """This request has spent its time on Redis."""


class RedisBudget:
    __slots__ = ("left",)

    def __init__(self, seconds: float) -> None:
        self.left = seconds


_budget: ContextVar[RedisBudget | None] = ContextVar("redis_budget", default=None)


@asynccontextmanager
async def bounded(timeout: float) -> AsyncIterator[None]:
    """Run the block within `timeout` and what is left of the request's budget."""
    budget = _budget.get()
    if budget is None:
        async with asyncio.timeout(timeout):
            yield
        return
    if budget.left <= 0:
        raise RedisBudgetSpent("the request has spent its time on Redis")
    started = time.monotonic()
    try:
        async with asyncio.timeout(min(timeout, budget.left)):
            yield
    finally:
        budget.left -= time.monotonic() - started


class BoundedRedis(Redis):
    """A Redis client whose commands (scripts included) and pipelines run within `bounded`."""

    command_timeout: float = 0.25

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        async with bounded(self.command_timeout):
            return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        pipe = BoundedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.command_timeout = self.command_timeout
        return pipe


class BoundedPipeline(Pipeline):
    command_timeout: float = 0.25

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        async with bounded(self.command_timeout):
            return await super().execute(raise_on_error)


def bounded_redis(url: str, *, timeout: float, **options: Any) -> BoundedRedis:
    client = BoundedRedis.from_url(url, **options)
    assert isinstance(client, BoundedRedis)
    client.command_timeout = timeout
    return client


class RedisBudgetMiddleware:
    """Each HTTP request gets `seconds` to spend on Redis, in total."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _budget.set(RedisBudget(self.seconds))
        try:
            await self.app(scope, receive, send)
        finally:
            _budget.reset(token)
