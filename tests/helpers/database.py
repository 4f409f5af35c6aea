"""The test database: one per pytest run on TEST_DATABASE_URL's server, migrated by Alembic,
emptied after every test that started the app."""

from __future__ import annotations

import os
import threading

import asyncpg
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401 - registers the tables on Base.metadata
from app.db import Base
from app.health import alembic_config

SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def with_database(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(SERVER_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Run Alembic in a thread: its env.py runs its own event loop."""
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    action = command.downgrade if down else command.upgrade

    def run() -> None:
        action(config, revision)

    errors: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def truncate_all(url: str) -> None:
    """Empty every table (what a test that started the app leaves behind)."""
    engine = create_async_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        if tables:
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    await engine.dispose()
