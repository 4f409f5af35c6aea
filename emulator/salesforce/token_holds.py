"""Holding token requests, for races: `POST /__emulator/token-holds {"grant_type"}` makes the
next token requests of that grant type wait (after being counted) until
`DELETE /__emulator/token-holds` releases them (or 30 seconds pass). A test can then change
the world (reconnect, revoke) while a refresh is under way."""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

router = APIRouter(prefix="/__emulator")
HOLD_SECONDS = 30.0


# Kept beside the state, not in it: events are not part of what a restart restores.
_HOLDS: weakref.WeakKeyDictionary[Any, dict[str, threading.Event]] = weakref.WeakKeyDictionary()


def holds(state: Any) -> dict[str, threading.Event]:
    return _HOLDS.setdefault(state, {})


async def wait_if_held(state: Any, grant_type: str | None) -> None:
    with state._lock:
        event = holds(state).get(grant_type or "")
    if event is not None:
        await asyncio.to_thread(event.wait, HOLD_SECONDS)


@router.post("/token-holds")
async def hold(request: Request) -> Response:
    body = await request.json()
    state = request.app.state.sf
    with state._lock:
        holds(state)[str(body.get("grant_type", ""))] = threading.Event()
    return JSONResponse({"held": sorted(holds(state))})


@router.delete("/token-holds")
async def release(request: Request) -> Response:
    state = request.app.state.sf
    with state._lock:
        events = list(holds(state).values())
        holds(state).clear()
    for event in events:
        event.set()
    return JSONResponse({"released": len(events)})
