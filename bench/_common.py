"""Set-up shared by the benchmarks in this folder; not a benchmark itself.

A throw-away PostgreSQL database (DATABASE_URL's server, else 127.0.0.1:5432) migrated to
head, the Salesforce emulator in a thread, service replicas as uvicorn subprocesses, a
workspace connected through the emulator's OAuth flow, bench tokens, a tiny keep-alive
HTTP/1.1 response reader, a load run in a separate process, and percentile helpers.

Import it after putting the project root on sys.path: `from bench._common import ...`.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import httpx
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.auth import mint_token  # noqa: E402
from app.config import Settings  # noqa: E402
from app.crypto import TokenCipher  # noqa: E402
from app.db import Database  # noqa: E402
from app.deps import AnyMember  # noqa: E402
from app.health import alembic_config  # noqa: E402
from emulator.salesforce import SalesforceEmulator  # noqa: E402
from emulator.salesforce import create_app as create_salesforce_app  # noqa: E402
from emulator.server import RunningServer, start_in_thread  # noqa: E402
from tests.helpers.factories import grant_from_emulator, insert_connection  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# A load run in a separate process may take this long beyond its own time bound.
LOAD_GRACE_SECONDS = 120.0


# -- the service app ----------------------------------------------------------------------------


def bench_app() -> Any:
    """The service plus a constant endpoint behind the same auth (benches only).

    For uvicorn: `bench._common:bench_app --factory`.
    """
    from app.main import create_app

    app = create_app()

    @app.get("/v1/workspaces/{workspace_id}/bench/constant")
    async def constant(caller: AnyMember) -> dict[str, Any]:
        return {"ok": True, "workspace_id": caller.workspace_id}

    return app


def constant_path(workspace: str) -> str:
    return f"/v1/workspaces/{workspace}/bench/constant"


class MinimalAnswer(BaseModel):
    ok: bool
    workspace_id: str


def minimal_app() -> Any:
    """The yardstick: a minimal FastAPI app returning a pydantic model, nothing else (no auth,
    no middleware, no logging). For uvicorn: `bench._common:minimal_app --factory`."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/v1/workspaces/{workspace_id}/minimal")
    async def minimal(workspace_id: str) -> MinimalAnswer:
        return MinimalAnswer(ok=True, workspace_id=workspace_id)

    return app


def minimal_path(workspace: str) -> str:
    return f"/v1/workspaces/{workspace}/minimal"


# -- PostgreSQL ---------------------------------------------------------------------------------


def server_url() -> str:
    """The PostgreSQL server to create bench databases on (plain postgresql:// URL)."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def database_url(server: str, name: str) -> str:
    """`server` with its database replaced by `name` (plain postgresql:// URL)."""
    return server.rsplit("/", 1)[0] + "/" + name


def sqlalchemy_url(url: str) -> str:
    """The same URL for the service's SQLAlchemy + asyncpg driver."""
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def execute_admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(server: str, name: str) -> None:
    await execute_admin(server, f'CREATE DATABASE "{name}"')


async def drop_database(server: str, name: str) -> None:
    await execute_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str) -> None:
    """`alembic upgrade head` on `url`, in a thread of its own (its env.py runs an event loop,
    so this also works when called from inside one via asyncio.to_thread)."""
    from alembic import command

    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            config = alembic_config(url)
            config.attributes["configure_logger"] = False
            command.upgrade(config, "head")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=upgrade)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


class ScratchDatabase(NamedTuple):
    name: str
    url: str  # for the service (postgresql+asyncpg://)
    dsn: str  # for asyncpg.connect (postgresql://)


@contextmanager
def scratch_database(prefix: str) -> Iterator[ScratchDatabase]:
    """A new database `<prefix>_<random>` on server_url()'s server, migrated to head; dropped
    (even with connections still open) on the way out."""
    server = server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(create_database(server, name))
    try:
        dsn = database_url(server, name)
        database = ScratchDatabase(name, sqlalchemy_url(dsn), dsn)
        migrate(database.url)
        yield database
    finally:
        asyncio.run(drop_database(server, name))


# -- the Salesforce emulator and connected workspaces ------------------------------------------


def start_salesforce_emulator() -> tuple[SalesforceEmulator, RunningServer]:
    """The Salesforce emulator on a loopback port, in a thread of this process."""
    emulator = SalesforceEmulator()
    running = start_in_thread(create_salesforce_app(emulator))
    emulator.base_url = running.url
    return emulator, running


@contextmanager
def salesforce_emulator() -> Iterator[tuple[SalesforceEmulator, RunningServer]]:
    """start_salesforce_emulator(), stopped on the way out."""
    emulator, running = start_salesforce_emulator()
    try:
        yield emulator, running
    finally:
        running.stop()


def in_process_settings(emulator: SalesforceEmulator, database: str, **overrides: Any) -> Settings:
    """Settings for a service built in this process on `database` and the emulator (quiet)."""
    host = emulator.base_url.split("://", 1)[1]
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        database_url=database,
        salesforce_login_url=emulator.base_url,
        salesforce_sandbox_login_url=emulator.base_url,
        salesforce_extra_allowed_hosts=host,
        log_level="WARNING",
        **overrides,
    )


async def connect_workspaces(database: str, login_url: str, usernames: Mapping[str, str]) -> None:
    """Connect each workspace to the emulator user named for it, through the OAuth flow."""
    settings = Settings(_env_file=None, environment="development", database_url=database)  # type: ignore[call-arg]
    db = Database(settings.async_database_url, pool_size=2)
    try:
        cipher = TokenCipher(settings.encryption_keys)
        for workspace, username in usernames.items():
            grant = await grant_from_emulator(login_url, username)
            await insert_connection(db, cipher, workspace, grant, login_url=login_url)
    finally:
        await db.dispose()


def bench_token(workspace: str, role: str) -> str:
    """A bearer token for `workspace` that the service (development settings) accepts."""
    settings = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
    return mint_token(settings, workspace_id=workspace, role=role, user_id="bench")


# -- service processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def local_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def service_env(database: str, salesforce_url: str, **extra: str) -> dict[str, str]:
    """This process's environment plus what points the service at the bench's database and
    the Salesforce emulator; `extra` adds or overrides variables.

    The per-workspace limit on cache misses is lifted: these benches measure how fast the
    service answers, and one bench workspace sends far more new identifiers a second than
    LOOKUP_MISS_RATE_PER_WORKSPACE allows (its 429s would be counted as fast answers). The
    limit has its own tests, and bench/api_budget.py counts calls."""
    return {
        **os.environ,
        "ENVIRONMENT": "development",
        "LOOKUP_MISS_RATE_PER_WORKSPACE": "1000000",
        "LOOKUP_MISS_BURST_PER_WORKSPACE": "1000000",
        "DATABASE_URL": database,
        "SALESFORCE_LOGIN_URL": salesforce_url,
        "SALESFORCE_SANDBOX_LOGIN_URL": salesforce_url,
        "SALESFORCE_EXTRA_ALLOWED_HOSTS": salesforce_url.split("://", 1)[1],
        **extra,
    }


# What `make run` and the Dockerfile use: one worker on uvloop and httptools.
UVICORN_FAST = ("--loop", "uvloop", "--http", "httptools")


def start_replica(
    env: Mapping[str, str],
    port: int,
    uvicorn_options: Sequence[str] = (),
    app_factory: str = "bench._common:bench_app",
) -> subprocess.Popen[bytes]:
    """One uvicorn worker serving `app_factory` (the service's `bench_app` unless told) on a
    loopback port; output discarded."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app_factory,
            "--factory",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            *uvicorn_options,
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**env, "PUBLIC_BASE_URL": local_url(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(base_url: str, process: subprocess.Popen[bytes], probe: str = "/healthz") -> None:
    """Until GET `probe` answers 200; raises if the process exits or 60 s pass."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service at {base_url} exited during start-up")
        try:
            if httpx.get(base_url + probe, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service at {base_url} did not start within {READY_TIMEOUT:.0f} s")


def stop_processes(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM all, then wait for each (killing any still running after 10 s)."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Service(NamedTuple):
    url: str
    pid: int


@contextmanager
def running_services(
    env: Mapping[str, str], count: int, uvicorn_options: Sequence[str] = ()
) -> Iterator[list[Service]]:
    """`count` replicas (start_replica), each ready; their base URLs and process ids.
    Stopped on the way out."""
    ports: list[int] = []
    while len(ports) < count:  # distinct, however unlikely a repeat
        if (port := free_port()) not in ports:
            ports.append(port)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            processes.append(start_replica(env, port, uvicorn_options))
        urls = [local_url(port) for port in ports]
        for url, process in zip(urls, processes, strict=True):
            wait_ready(url, process)
        yield [Service(url, p.pid) for url, p in zip(urls, processes, strict=True)]
    finally:
        stop_processes(processes)


@contextmanager
def running_replicas(
    env: Mapping[str, str], count: int, uvicorn_options: Sequence[str] = ()
) -> Iterator[list[str]]:
    """`count` replicas (start_replica), each ready; their base URLs. Stopped on the way out."""
    with running_services(env, count, uvicorn_options) as services:
        yield [service.url for service in services]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far; NaN where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the Salesforce emulator in a process of its own ------------------------------------------

EMULATOR_CALLBACK = "http://testserver/v1/salesforce/oauth/callback"


class EmulatorProcess:
    """`python -m emulator` on a loopback port, driven through its control API, so that its
    CPU is neither counted as the bench's nor shared with it."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/__emulator{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, int]:
        return dict(self._control("GET", "/counters"))

    def reset_counters(self) -> None:
        self._control("POST", "/counters/reset")

    def set(self, **settings: Any) -> None:
        """PUT /__emulator/settings, e.g. `set(latency_ms=50)`."""
        self._control("PUT", "/settings", json=settings)

    def default_username(self, org_id: str) -> str:
        org = next(o for o in self._control("GET", "/orgs") if o["id"] == org_id)
        return str(org["users"][0]["username"])


@contextmanager
def salesforce_emulator_process() -> Iterator[EmulatorProcess]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--callback-url",
            EMULATOR_CALLBACK,
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = local_url(port)
        wait_ready(url, process, "/__emulator/settings")
        yield EmulatorProcess(url, process)
    finally:
        stop_processes([process])


@contextmanager
def running_minimal_app(uvicorn_options: Sequence[str] = ()) -> Iterator[str]:
    """`minimal_app` in its own uvicorn process with the same options; its base URL."""
    port = free_port()
    process = start_replica(os.environ, port, uvicorn_options, "bench._common:minimal_app")
    try:
        url = local_url(port)
        wait_ready(url, process, minimal_path("ready"))
        yield url
    finally:
        stop_processes([process])


# -- load generation: wrk -----------------------------------------------------------------------

WRK_INSTALL_HINT = "install wrk for figures the service itself limits: apt-get install wrk"

# Cycles through the paths (each wrk thread from its own offset) and prints exact percentiles
# as JSON from done().
_WRK_SCRIPT = """
local paths = {%(paths)s}
local threads = {}
function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end
function init(args)
  index = offset
  wrk.headers["Authorization"] = %(authorization)s
end
function request()
  index = index + 1
  return wrk.format("GET", paths[(index - 1) %% #paths + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write("WRK-JSON " .. string.format(
    '{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "errors": %%d}',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status) .. "\\n")
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of printable ASCII is a valid Lua string


def run_wrk(
    base_url: str,
    paths: Sequence[str],
    *,
    seconds: float,
    concurrency: int,
    authorization: str | None = None,
) -> dict[str, float]:
    """One wrk run (1 thread, keep-alive, `concurrency` connections, `seconds` long) cycling
    through `paths`, with `authorization` as the Authorization header. Requests/s, p50, p99
    and errors (non-2xx/3xx answers and socket errors) as run_load() reports them."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError(WRK_INSTALL_HINT)
    if not base_url.startswith(f"http://{LOOPBACK}:"):
        raise ValueError("benchmarks only send traffic to the loopback address")
    script = _WRK_SCRIPT % {
        "paths": ", ".join(_lua_string(p) for p in paths),
        "authorization": _lua_string(authorization) if authorization else "nil",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        completed = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                handle.name,
                base_url + paths[0],
            ],
            capture_output=True,
            text=True,
            timeout=seconds + LOAD_GRACE_SECONDS,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    line = next(x for x in completed.stdout.splitlines() if x.startswith("WRK-JSON "))
    figures = json.loads(line.removeprefix("WRK-JSON "))
    return {
        "requests": figures["requests"],
        "errors": figures["errors"],
        "rps": figures["requests"] / (figures["duration_us"] / 1e6),
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
    }


# -- load generation: the Python fallback -------------------------------------------------------


async def read_response_head(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Status code and Content-Length of one HTTP/1.1 response (a tiny client: httpx itself
    would be the bottleneck at these rates on a small machine)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, length


def _run_to_queue(
    function: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...], queue: Any
) -> None:
    queue.put(asyncio.run(function(*args)))


def run_in_process(
    function: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...], timeout: float
) -> Any:
    """`asyncio.run(function(*args))` in a fresh (spawned) process, so that the load does not
    share this process's CPU; its result, or an error after `timeout` seconds."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run_to_queue, args=(function, args, queue))
    process.start()
    try:
        return queue.get(timeout=timeout)
    finally:
        process.join(STOP_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()


# -- figures ------------------------------------------------------------------------------------


def median_ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000


def percentile_ms(seconds: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `seconds` lie (nearest rank), in milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def median_round(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median requests/s (the upper one of an even count)."""
    return sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]
