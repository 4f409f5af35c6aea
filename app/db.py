"""Engine, sessions and the declarative base.

Services open short transactions with `Database.transaction()` and never keep one open
across a Salesforce or respond.io HTTP call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from sqlalchemy import Executable, MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util.concurrency import await_

from app.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DatabaseUnavailable(ConnectionError):
    """No database connection could be made: refused, reset, timed out, or the server
    answered with an error (the database was dropped or renamed, the role or its password
    changed, too many connections, shutting down). Answered 503 `service_unavailable`."""


CONNECT_TIMEOUT_SECONDS = 2.0
STATEMENT_TIMEOUT_SECONDS = 5.0


class Database:
    """Every wait on the database is bounded: a connection is made (or taken from the pool)
    within `connect_timeout`, and each statement, the pool's ping included, answers within
    `statement_timeout` or fails with TimeoutError. So a server that accepts TCP but never
    answers costs a request seconds, not minutes."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        statement_timeout: float = STATEMENT_TIMEOUT_SECONDS,
    ) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_timeout=connect_timeout,
            connect_args={"timeout": connect_timeout, "command_timeout": statement_timeout},
            # SQL parameters carry customer data (emails, field values): never in an error
            # message, a traceback or a log line.
            hide_parameters=True,
        )
        event.listen(self.engine.sync_engine, "do_connect", _connect_or_unavailable)
        # The pool's ping (before each checkout) is a connection check: bounded like a
        # connect, so a silent server costs a request two connect timeouts at most.
        dialect = self.engine.sync_engine.dialect
        dialect.do_ping = partial(_ping_within, connect_timeout)  # type: ignore[method-assign]
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def for_settings(cls, settings: Settings, *, pool_size: int | None = None) -> Database:
        return cls(
            settings.async_database_url,
            pool_size=settings.db_pool_size if pool_size is None else pool_size,
            connect_timeout=settings.database_connect_timeout_seconds,
            statement_timeout=settings.database_statement_timeout_seconds,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def changes(self, statement: Executable) -> bool:
        """Run one UPDATE or DELETE in its own transaction: whether it matched a row."""
        async with self.transaction() as session:
            result = await session.execute(statement)
            return bool(getattr(result, "rowcount", 0))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _connect_or_unavailable(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
    """Make the connection, or say plainly that none could be made: the driver reports a
    database that no longer exists as a query error, not a connection error."""
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as exc:  # noqa: BLE001 - every way of failing to connect is one outcome
        raise DatabaseUnavailable(type(exc).__name__) from exc


def _ping_within(timeout: float, dbapi_connection: Any) -> bool:
    """The asyncpg dialect's ping (SQLAlchemy's own steps) within `timeout`."""
    try:
        await_(asyncio.wait_for(dbapi_connection._async_ping(), timeout))
    except Exception as error:  # noqa: BLE001 - translated as the dialect's own ping does
        dbapi_connection._handle_exception(error)
    return True
