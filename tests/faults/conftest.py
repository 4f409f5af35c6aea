"""The service with a fault-injecting TCP proxy (tests/helpers/faultproxy.py) between it and
PostgreSQL: the tests cut, blackhole and restore the database while requests run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.helpers.faultproxy import FaultProxy


@pytest.fixture
def proxied_settings(
    make_settings: Callable[..., Settings], database_url: str, pg_proxy: FaultProxy
) -> Callable[..., Settings]:
    """Settings whose database is reached through the proxy, with short database timeouts
    so a blackholed database is noticed in about a second."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": pg_proxy.address(database_url),
            "database_connect_timeout_seconds": 1.0,
            "database_statement_timeout_seconds": 1.0,
        }
        values.update(overrides)
        return make_settings(**values)

    return build


@pytest.fixture
async def proxied_client(
    proxied_settings: Callable[..., Settings],
) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(proxied_settings())
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
