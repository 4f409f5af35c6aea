"""Run an ASGI app with uvicorn in a daemon thread (tests, benches)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class RunningServer:
    url: str
    port: int
    server: uvicorn.Server = field(repr=False)
    thread: threading.Thread = field(repr=False)
    sock: socket.socket = field(repr=False)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_in_thread(
    asgi_app: Any, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0
) -> RunningServer:
    """Bind a socket (port 0 = any free port), serve asgi_app on it, return once started."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY: no Nagle delay between header and body writes.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        asgi_app, log_level="warning", access_log=False, lifespan="off", loop="asyncio"
    )
    server = uvicorn.Server(config)
    # The thread is not the main thread: uvicorn must not install signal handlers.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"server on {host}:{bound_port} did not start")
        time.sleep(0.01)
    return RunningServer(f"http://{host}:{bound_port}", bound_port, server, thread, sock)
