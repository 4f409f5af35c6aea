"""The engines and the logs never carry SQL parameters (customer data)."""

from __future__ import annotations

import logging
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.db import Database
from app.logs import json_formatter

SECRET = "ana.souza@example.com private note"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO no_such_table VALUES (:value)",  # parameters in SQLAlchemy's message
        "SELECT CAST(:value AS integer)",  # asyncpg quotes the argument
        "SELECT CAST(CAST(:value AS text) AS uuid)",  # PostgreSQL quotes the value
    ],
)
async def test_a_failing_statement_logs_none_of_its_parameters(
    settings: Settings, statement: str
) -> None:
    db = Database(settings.async_database_url, pool_size=1)
    try:
        with pytest.raises(DBAPIError) as failure:
            async with db.transaction() as session:
                await session.execute(text(statement), {"value": SECRET})
    finally:
        await db.dispose()
    assert "[parameters:" not in str(failure.value)
    try:
        raise RuntimeError("the request failed") from failure.value
    except RuntimeError:
        record = logging.LogRecord(
            "app.errors", logging.ERROR, __file__, 1, "http.unhandled_error", None, sys.exc_info()
        )
    line = json_formatter().format(record)
    assert SECRET not in line
    assert "DBAPIError" in line or "Error" in line
