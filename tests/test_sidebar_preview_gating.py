"""The sidebar preview (and its token minting) exists only in development apps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.auth import TokenVerifier
from app.config import Settings
from app.main import create_app


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize("environment", ["test", "production"])
async def test_not_served_outside_development(
    make_settings: Callable[..., Settings], environment: str
) -> None:
    secrets = {
        "service_jwt_secret": "a-real-secret-for-this-test-0123456789",
        "token_encryption_keys": "aW5kZXBlbmRlbnQtdGVzdC1rZXktMDEyMzQ1Njc4OTA=",
        "salesforce_client_id": "id",
        "salesforce_client_secret": "client-secret-for-test",
    }
    app = create_app(make_settings(environment=environment, **secrets))
    async with _client(app) as http:
        assert (await http.get("/dev/sidebar")).status_code == 404
        assert (await http.get("/dev/sidebar/sidebar.js")).status_code == 404
        assert (await http.post("/dev/sidebar/token?workspace=w")).status_code == 404


async def test_development_serves_the_page_and_mints_tokens(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(environment="development")
    app = create_app(settings)
    async with _client(app) as http:
        page = await http.get("/dev/sidebar")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for asset in ("sidebar.js", "sidebar.css"):
            assert (await http.get(f"/dev/sidebar/{asset}")).status_code == 200
        assert (await http.get("/dev/sidebar/other.txt")).status_code in (404, 422)
        minted = await http.post("/dev/sidebar/token?workspace=ws-7&role=agent")
    caller = TokenVerifier(settings).verify(minted.json()["token"])
    assert (caller.workspace_id, caller.role) == ("ws-7", "agent")


async def test_no_token_is_minted_with_a_real_secret(
    make_settings: Callable[..., Settings],
) -> None:
    """A development app run with a production-strength secret mints nothing: such a token
    would be accepted wherever that secret is (the page still takes a pasted token)."""
    app = create_app(
        make_settings(
            environment="development",
            service_jwt_secret="a-production-strength-secret-0123456789abcdef",
        )
    )
    async with _client(app) as http:
        assert (await http.get("/dev/sidebar")).status_code == 200
        refused = await http.post("/dev/sidebar/token?workspace=ws-7&role=owner")
    assert refused.status_code == 403
    assert "token" not in refused.json()


@pytest.mark.parametrize("peer", ["203.0.113.9", "10.0.0.5", "::ffff:198.51.100.1"])
async def test_tokens_are_minted_only_for_loopback_callers(
    make_settings: Callable[..., Settings], peer: str
) -> None:
    app = create_app(make_settings(environment="development"))
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        refused = await http.post("/dev/sidebar/token?workspace=ws-7&role=owner")
    assert refused.status_code == 403
    assert "token" not in refused.json()
