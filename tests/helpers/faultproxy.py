"""A small TCP proxy for fault injection: put it between the service and PostgreSQL or Redis,
then `cut()` (new connections refused, open ones reset), `blackhole()` (connections accepted,
nothing ever answered, open ones go silent) and `restore()` while requests run.

It runs on the test's event loop (`async with FaultProxy(host, port) as proxy`); the service
is pointed at `proxy.port` instead of the real server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Literal

Mode = Literal["pass", "cut", "blackhole"]
CHUNK = 65536


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, not a FIN (SO_LINGER 0), as a crashed or firewalled peer would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._listening = True

    async def __aenter__(self) -> FaultProxy:
        await self._listen(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop_listening()
        for client, upstream in list(self._links):
            client.transport.abort()
            if upstream is not None:
                upstream.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def address(self, url: str) -> str:
        """`url` with the target's `host:port` replaced by the proxy's."""
        host, port = self.target
        return url.replace(f"{host}:{port}", f"127.0.0.1:{self.port}", 1)

    # -- faults ----------------------------------------------------------------------------

    async def cut(self) -> None:
        """Refuse new connections (nothing listens) and reset every open one."""
        self.mode = "cut"
        await self._stop_listening()
        for client, upstream in list(self._links):
            _reset(client)
            if upstream is not None:
                _reset(upstream)
        self._links.clear()

    async def blackhole(self) -> None:
        """Accept connections but never answer; open connections stop carrying bytes."""
        self.mode = "blackhole"
        await self._ensure_listening()

    async def restore(self) -> None:
        """Back to passing bytes both ways. Connections opened during the blackhole, and
        those it silenced, are reset (their protocol state is lost), as after a network
        partition heals."""
        silenced = [link for link in self._links if link[1] is None or self.mode == "blackhole"]
        self.mode = "pass"
        for client, upstream in silenced:
            _reset(client)
            if upstream is not None:
                _reset(upstream)
            self._links.discard((client, upstream))
        await self._ensure_listening()

    # -- plumbing --------------------------------------------------------------------------

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._listening = True

    async def _ensure_listening(self) -> None:
        if not self._listening:
            await self._listen(self.port)

    async def _stop_listening(self) -> None:
        if self._server is not None and self._listening:
            self._listening = False
            self._server.close()
            # wait_closed() also waits for the handlers of accepted connections: don't.
            self._server = None

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            _reset(writer)
            return
        if self.mode == "blackhole":
            self._links.add((writer, None))
            return  # held open; nothing is read or answered
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        link = (writer, up_writer)
        self._links.add(link)
        self._spawn(self._pump(reader, up_writer))
        self._spawn(self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                while self.mode == "blackhole":
                    await asyncio.sleep(0.05)  # silenced: hold the bytes, answer nothing
                if self.mode == "cut" or writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.close()
