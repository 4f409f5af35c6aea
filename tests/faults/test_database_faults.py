"""A database that accepts TCP but never answers, and a database dropped or renamed under
traffic: every request answers 503 `service_unavailable` with `Retry-After` (not a hang, not
a 500), `/readyz` says `unreachable`, and both recover without a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.helpers.database import SERVER_URL, admin, migrate, with_database
from tests.helpers.faultproxy import FaultProxy

# Generous: the point is "answered", not how fast.
ANSWERED_WITHIN = 30.0
CONNECTION = "/v1/workspaces/ws-1/salesforce/connection"
SETTINGS = {
    "visible_fields": ["Name"],
    "editing_enabled": False,
    "phone_matching": "exact",
    "auto_create": {"enabled": False, "add_tag": True, "include_bulk_imports": False},
}


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "service_unavailable"
    assert int(response.headers["retry-after"]) > 0


async def test_a_database_that_never_answers_is_a_503_not_a_hang(
    proxied_client: httpx.AsyncClient,
    pg_proxy: FaultProxy,
    auth: Callable[..., dict[str, str]],
) -> None:
    assert (await proxied_client.get(CONNECTION, headers=auth())).status_code == 200
    await pg_proxy.blackhole()
    async with asyncio.timeout(ANSWERED_WITHIN):
        assert_unavailable(await proxied_client.get(CONNECTION, headers=auth()))
        ready = await proxied_client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    await pg_proxy.restore()
    async with asyncio.timeout(ANSWERED_WITHIN):
        assert (await proxied_client.get(CONNECTION, headers=auth())).status_code == 200
        assert (await proxied_client.get("/readyz")).status_code == 200


async def test_a_database_that_does_not_exist_is_a_503(
    make_settings: Callable[..., Settings], auth: Callable[..., dict[str, str]]
) -> None:
    missing = with_database(SERVER_URL, f"sfint_missing_{uuid.uuid4().hex[:8]}")
    settings = make_settings(database_url=missing)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert_unavailable(await http.get(CONNECTION, headers=auth()))
            assert_unavailable(
                await http.put(
                    "/v1/workspaces/ws-1/salesforce/settings",
                    json=SETTINGS,
                    headers=auth(),
                )
            )
            ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"


async def _rename(old: str, new: str) -> None:
    """ALTER DATABASE ... RENAME needs the database free of sessions: end them first (the
    service's pool may reconnect in between, so try a few times)."""
    for _ in range(20):
        await admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{old}'"
        )
        try:
            await admin(f'ALTER DATABASE "{old}" RENAME TO "{new}"')
            return
        except Exception:  # noqa: BLE001 - a session came back: end it again
            await asyncio.sleep(0.1)
    pytest.fail(f"could not rename {old}")


async def test_a_database_renamed_under_traffic_is_a_503_then_recovers(
    make_settings: Callable[..., Settings], auth: Callable[..., dict[str, str]]
) -> None:
    name = f"sfint_rename_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = with_database(SERVER_URL, name).replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await asyncio.to_thread(migrate, url)
        application = create_app(make_settings(database_url=url))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert (await http.get(CONNECTION, headers=auth())).status_code == 200
                await _rename(name, f"{name}_x")
                try:
                    async with asyncio.timeout(ANSWERED_WITHIN):
                        assert_unavailable(await http.get(CONNECTION, headers=auth()))
                        ready = await http.get("/readyz")
                    assert ready.json()["database"] == "unreachable", ready.text
                finally:
                    await _rename(f"{name}_x", name)
                assert (await http.get(CONNECTION, headers=auth())).status_code == 200
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin(f'DROP DATABASE IF EXISTS "{name}_x" WITH (FORCE)')
