"""Reading a request body with a size cap, before any parsing."""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

API_MAX_BODY_BYTES = 1_048_576
"""The largest JSON body any `/v1/workspaces/...` route accepts (1 MiB)."""


class BodyTooLarge(Exception):
    """The body (declared or streamed) is larger than the limit."""


async def read_bounded(request: Request, limit: int, *, timeout: float | None = None) -> bytes:
    """The whole body; BodyTooLarge as soon as the declared length or the bytes read pass
    `limit`, so an oversized body is never held in memory; TimeoutError when it has not all
    arrived within `timeout` seconds."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout):
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)


async def receive_bounded(receive: Receive, limit: int) -> bytes:
    """The whole body straight from the ASGI channel (for middleware, before any route):
    BodyTooLarge once the bytes received pass `limit`, ClientDisconnect if the client leaves
    before the end."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
