"""How long the service takes to answer through PostgreSQL and Redis faults, and what an
unauthenticated flood of large bodies costs it. Prints figures; asserts nothing.

The service runs in this process (ASGI, default timeouts: DATABASE_CONNECT_TIMEOUT_SECONDS 2,
DATABASE_STATEMENT_TIMEOUT_SECONDS 5, CACHE_TIMEOUT_SECONDS 0.25) with a fault-injecting TCP
proxy (tests/helpers/faultproxy.py) in front of PostgreSQL and of Redis (when one answers at
TEST_CACHE_URL, default redis://127.0.0.1:6379/0). Measured:

- PostgreSQL blackholed (accepts, never answers) and cut (refused, reset): time to the 503 of
  `GET .../connection` and of `/readyz`; after the restore, time to the first 200.
- Redis blackholed: time of a lookup miss and of a Contact create (Salesforce emulator).
- Four unauthenticated 250 MiB streamed bodies at once to `PUT .../settings`: bytes the
  service read and its peak RSS growth.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import redis.asyncio  # noqa: E402

from app.auth import mint_token  # noqa: E402
from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from bench._common import salesforce_emulator, scratch_database  # noqa: E402
from tests.helpers.autocreate import connect_workspace  # noqa: E402
from tests.helpers.faultproxy import FaultProxy  # noqa: E402

WS = "ws-faults"
CONNECTION = f"/v1/workspaces/{WS}/salesforce/connection"
REDIS_URL = os.environ.get("TEST_CACHE_URL", "redis://127.0.0.1:6379/0")
ROUNDS = 3


def settings_for(database: str, **extra: Any) -> Settings:
    return Settings(_env_file=None, environment="test", database_url=database, **extra)  # type: ignore[call-arg]


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[float, int]:
    started = time.perf_counter()
    response = await call()
    return time.perf_counter() - started, response.status_code


async def until_ok(call: Callable[[], Awaitable[httpx.Response]]) -> float:
    started = time.perf_counter()
    for _ in range(1000):
        if (await call()).status_code == 200:
            break
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def database_faults(database_url: str) -> None:
    target = urlsplit(database_url)
    async with FaultProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        settings = settings_for(proxy.address(database_url))
        headers = {"Authorization": "Bearer " + mint_token(settings, workspace_id=WS, role="owner")}
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                await http.get(CONNECTION, headers=headers)
                for fault in ("blackhole", "cut"):
                    for _ in range(ROUNDS):
                        await getattr(proxy, fault)()
                        route = await timed(lambda: http.get(CONNECTION, headers=headers))
                        ready = await timed(lambda: http.get("/readyz"))
                        await proxy.restore()
                        back = await until_ok(lambda: http.get(CONNECTION, headers=headers))
                        print(
                            f"postgres {fault:9}  connection: {route[1]} in {route[0]:6.3f} s"
                            f"   readyz: {ready[1]} in {ready[0]:6.3f} s"
                            f"   200 again {back:6.3f} s after the restore"
                        )


async def redis_faults(database_url: str) -> None:
    probe = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        await probe.ping()
    except (redis.RedisError, OSError):
        print(f"redis: none answering at {REDIS_URL}, skipped")
        return
    finally:
        await probe.aclose()
    target = urlsplit(REDIS_URL)
    with salesforce_emulator() as (emulator, _):
        host = emulator.base_url.split("://", 1)[1]
        async with FaultProxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
            settings = settings_for(
                database_url,
                cache_url=proxy.address(REDIS_URL),
                cache_key_prefix=f"bench-faults-{os.getpid()}:",
                salesforce_login_url=emulator.base_url,
                salesforce_sandbox_login_url=emulator.base_url,
                salesforce_extra_allowed_hosts=host,
            )
            token = mint_token(settings, workspace_id=WS, role="owner")
            headers = {"Authorization": f"Bearer {token}"}
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                await connect_workspace(app, emulator, WS)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                    base = f"/v1/workspaces/{WS}/salesforce"
                    document = {
                        "visible_fields": ["Name", "Email"],
                        "editing_enabled": True,
                        "record_creation_enabled": True,
                        "phone_matching": "exact",
                        "auto_create": {
                            "enabled": False,
                            "add_tag": True,
                            "include_bulk_imports": False,
                        },
                    }
                    await http.put(f"{base}/settings", json=document, headers=headers)
                    await proxy.blackhole()
                    for n in range(ROUNDS):
                        miss = await timed(
                            lambda n=n: http.get(
                                f"{base}/contacts/lookup",
                                params={"email": f"nobody{n}@example.com"},
                                headers=headers,
                            )
                        )
                        create = await timed(
                            lambda n=n: http.post(
                                f"{base}/contacts",
                                json={"fields": {"LastName": f"Bench{n}"}},
                                headers=headers,
                            )
                        )
                        print(
                            f"redis blackhole   lookup miss: {miss[1]} in {miss[0]:6.3f} s"
                            f"   create: {create[1]} in {create[0]:6.3f} s"
                        )
                        await asyncio.sleep(1.1)  # past the second Redis is skipped for


async def flood(body_bytes: int, chunk: int) -> AsyncIterator[bytes]:
    block = b"[" * chunk
    for _ in range(body_bytes // chunk):
        yield block


async def unauthenticated_flood(database_url: str) -> None:
    app = create_app(settings_for(database_url))
    read = 0

    async with app.router.lifespan_context(app):

        async def one() -> int:
            nonlocal read
            chunk, total = 64 * 1024, 250 * 1024 * 1024
            messages = (total // chunk) - 1
            sent = 0

            async def receive() -> dict[str, Any]:
                nonlocal sent, read
                sent += 1
                read += chunk
                return {"type": "http.request", "body": b"[" * chunk, "more_body": sent < messages}

            status = 0

            async def send(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "PUT",
                "scheme": "http",
                "path": f"/v1/workspaces/{WS}/salesforce/settings",
                "raw_path": b"",
                "query_string": b"",
                "root_path": "",
                "headers": [(b"content-type", b"application/json")],
                "client": ("127.0.0.1", 1),
                "server": ("bench", 80),
                "state": {},
            }
            await app(scope, receive, send)
            return status

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        statuses = await asyncio.gather(*(one() for _ in range(4)))
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"4 x 250 MiB unauthenticated bodies: statuses {sorted(set(statuses))}, "
        f"{read} bytes read, peak RSS +{(after - before) / 1024:.1f} MiB, {elapsed:.3f} s"
    )


def main() -> None:
    with scratch_database("bench_faults") as database:
        asyncio.run(unauthenticated_flood(database.url))
        asyncio.run(database_faults(database.url))
        asyncio.run(redis_faults(database.url))


if __name__ == "__main__":
    main()
