"""Operations endpoints, migrations, error rendering."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter

from app import health
from app.db import Base
from app.main import create_app
from tests.helpers.database import SERVER_URL, admin, migrate, with_database


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_migrated(client: httpx.AsyncClient, app: Any) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == health.head_revision()


async def test_readyz_fails_when_database_is_down(make_settings: Any) -> None:
    # Nothing listens on port 1: the database is unreachable.
    settings = make_settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert "cannot be reached" in response.json()["detail"]
    assert int(response.headers["retry-after"]) > 0


async def test_readyz_fails_when_not_migrated(make_settings: Any) -> None:
    name = f"sfint_empty_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(SERVER_URL, name).replace("postgresql://", "postgresql+asyncpg://")
        await _admin_exec(url, "CREATE TABLE alembic_version (version_num varchar(32))")
        application = create_app(make_settings(database_url=url))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get("/readyz")
            await application.state.services.db.dispose()
        assert response.status_code == 503
        assert response.json()["database"] == "not_migrated"
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_readyz_tells_an_empty_database_from_an_unreachable_one(
    make_settings: Any,
) -> None:
    """A database that answers but was never migrated (no alembic_version table) is
    `not_migrated`, not `unreachable`: the fix is to migrate, not to look at the network."""
    name = f"sfint_empty_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(SERVER_URL, name).replace("postgresql://", "postgresql+asyncpg://")
        application = create_app(make_settings(database_url=url))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get("/readyz")
            await application.state.services.db.dispose()
        assert response.status_code == 503
        body = response.json()
        assert body["database"] == "not_migrated"
        assert body["revision"] is None
        assert "migrate" in body["detail"]
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin_exec(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "http_requests_total" in response.text
    assert 'route="/healthz"' in response.text


async def test_migrations_go_down_and_up_cleanly() -> None:
    name = f"sfint_mig_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = with_database(SERVER_URL, name)
    try:
        async_url = url.replace("postgresql://", "postgresql+asyncpg://")
        import asyncio

        await asyncio.to_thread(migrate, async_url)
        tables = await _tables(url)
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        await asyncio.to_thread(migrate, async_url, "base", down=True)
        assert await _tables(url) == {"alembic_version"}
        await asyncio.to_thread(migrate, async_url)
        assert {t.name for t in Base.metadata.sorted_tables} <= await _tables(url)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


BOOM = APIRouter()


@BOOM.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret-internal-detail")


async def test_unhandled_error_is_problem_json_without_trace(app: Any) -> None:
    app.include_router(BOOM)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "internal_error"
    assert "secret-internal-detail" not in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("path", ["/nowhere", "/v1/workspaces/ws-1/unknown"])
async def test_unknown_paths_are_problem_json(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_models_and_migrations_agree(database_url: str) -> None:
    """`alembic check`: the models need no migration that is not written yet."""
    import asyncio

    from alembic import command

    from app.health import alembic_config

    config = alembic_config(database_url)
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.check, config)
