"""Emulator state kept across restarts (`make run` keeps it under .data/).

A restarted `make run` must find the grants the service still holds, the records edited in
the demo and the respond.io contacts it created, or the first lookup after a restart would
ask to reconnect. The whole state object is pickled (locks are written as fresh locks) every
couple of seconds when it changed, and once more when the emulator stops. A file that cannot
be read (another version of the emulator wrote it) is set aside and the emulator starts
fresh. Development only: the file is trusted like the code beside it.
"""

from __future__ import annotations

import copyreg
import io
import logging
import pickle
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("emulator.persistence")

_LOCK_TYPES: dict[type, Any] = {
    type(threading.Lock()): lambda _lock: (threading.Lock, ()),
    type(threading.RLock()): lambda _lock: (threading.RLock, ()),
}


def dumps(state: Any) -> bytes:
    """The state as bytes, taken under its own lock so no request changes it halfway."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table.update(_LOCK_TYPES)
    lock = getattr(state, "_lock", None)
    if lock is None:
        pickler.dump(state)
    else:
        with lock:
            pickler.dump(state)
    return buffer.getvalue()


def load(path: Path, expected: type) -> Any | None:
    """The state saved at `path`, or None when there is none (or it is unreadable)."""
    if not path.exists():
        return None
    try:
        state = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, development only
    except Exception as exc:  # any unreadable file: start fresh, keep it for a look
        aside = path.with_suffix(path.suffix + ".unreadable")
        path.replace(aside)
        log.warning(
            "emulator state %s unreadable (%s): starting fresh; kept as %s", path, exc, aside
        )
        return None
    if not isinstance(state, expected):
        log.warning("emulator state %s holds a %s: starting fresh", path, type(state).__name__)
        return None
    if getattr(state, "state_version", None) != getattr(expected, "STATE_VERSION", None):
        # Written by an emulator whose state had other fields: it would fail on first use.
        log.warning("emulator state %s is of another version: starting fresh", path)
        return None
    log.info("emulator state restored from %s", path)
    return state


class StateFile:
    """Saves `state` to `path` every `interval` seconds when it changed, and on `close()`."""

    def __init__(self, path: Path, state: Any, *, interval: float = 2.0) -> None:
        self.path = path
        self.state = state
        self.interval = interval
        self._last: bytes | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="emulator-state", daemon=True)
        self._broken = False

    def start(self) -> StateFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def save(self) -> None:
        if self._broken:
            return
        try:
            data = dumps(self.state)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            self._broken = True
            log.warning("emulator state cannot be saved (%s): it will not survive a restart", exc)
            return
        if data == self._last:
            return
        partial = self.path.with_suffix(self.path.suffix + ".partial")
        partial.write_bytes(data)
        partial.replace(self.path)  # atomic: a kill mid-write leaves the previous file
        self._last = data

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.save()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)
        self.save()


def keep_state(app: Any, path: Path, state: Any) -> StateFile:
    """Save `state` to `path` while `app` runs, and once more when it shuts down (uvicorn
    re-raises SIGTERM after its shutdown, so no `finally` after `uvicorn.run` would run)."""
    saver = StateFile(path, state).start()
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
        async with inner(asgi_app) as value:
            try:
                yield value
            finally:
                saver.close()

    app.router.lifespan_context = lifespan
    return saver
