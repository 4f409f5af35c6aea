"""Token refresh: single-flight in one process and across processes; dead grants."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.config import Settings
from app.models import Connection
from app.salesforce.errors import (
    ApiDisabled,
    HostNotAllowed,
    ReauthorizationRequired,
    RequestLimitExceeded,
    SalesforceUnavailable,
)
from tests.helpers.factories import connect_default_user
from tests.helpers.processes import run_together

SOQL = "SELECT Id, Email FROM Contact LIMIT 1"


@pytest.fixture
def settings(sf_settings: Settings) -> Settings:
    return sf_settings


def api_org(sf_emulator: Any) -> Any:
    return next(org for org in sf_emulator.orgs.values() if org.api_enabled)


@pytest.fixture
async def connected(app: Any, sf_emulator: Any) -> str:
    org = api_org(sf_emulator)
    await connect_default_user(app, sf_emulator, org)
    return "ws-1"


async def test_fifty_concurrent_calls_with_expired_token_refresh_once(
    app: Any, sf_emulator: Any, connected: str
) -> None:
    sf_emulator.rotate_refresh_tokens = True
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()

    results = await asyncio.gather(
        *(app.state.services.salesforce.query(connected, SOQL) for _ in range(50))
    )

    assert len(results) == 50
    assert all(len(records) == 1 for records in results)
    assert sf_emulator.counters["token.refresh_token"] == 1
    # The rotated refresh token was stored: the next expiry refreshes fine again.
    sf_emulator.expire_access_tokens()
    assert len(await app.state.services.salesforce.query(connected, SOQL)) == 1
    assert sf_emulator.counters["token.refresh_token"] == 2


async def test_two_processes_sharing_the_database_refresh_once(
    app: Any, sf_emulator: Any, connected: str, settings: Settings
) -> None:
    sf_emulator.rotate_refresh_tokens = True
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()
    summaries = await run_together(
        "workspace/refresh_process.py", [[connected, "25"] for _ in range(2)], settings
    )
    assert summaries == [{"ok": 25, "failed": 0}] * 2
    assert sf_emulator.counters["token.refresh_token"] == 1


async def test_revoked_grant_requires_reauthorization_without_looping(
    app: Any, sf_emulator: Any, connected: str
) -> None:
    sf_emulator.revoke_grants()
    sf_emulator.reset_counters()

    with pytest.raises(ReauthorizationRequired):
        await app.state.services.salesforce.query(connected, SOQL)

    assert sf_emulator.counters["token.refresh_token"] == 1
    async with app.state.services.db.transaction() as session:
        row = await session.scalar(select(Connection).where(Connection.workspace_id == connected))
    assert row is not None and row.status == "reauthorization_required"

    # Later calls fail fast: no further requests reach Salesforce.
    calls_before = sum(sf_emulator.counters.values())
    with pytest.raises(ReauthorizationRequired):
        await app.state.services.salesforce.query(connected, SOQL)
    assert sum(sf_emulator.counters.values()) == calls_before


@pytest.mark.parametrize(
    "fault,error",
    [
        ("request_limit_exceeded", RequestLimitExceeded),
        ("server_unavailable", SalesforceUnavailable),
        ("api_disabled", ApiDisabled),
    ],
)
async def test_salesforce_errors_are_typed(
    app: Any, sf_emulator: Any, connected: str, fault: str, error: type[Exception]
) -> None:
    sf_emulator.set_fault(api_org(sf_emulator).id, fault)
    with pytest.raises(error):
        await app.state.services.salesforce.query(connected, SOQL)


async def test_limit_info_reaches_metrics_without_tenant_ids(
    app: Any, sf_emulator: Any, connected: str, client: Any
) -> None:
    """/metrics is scraped by operators' tools: it names no org and no workspace (per-org
    usage is the connection's business, not a metric label)."""
    await app.state.services.salesforce.query(connected, SOQL)
    metrics = (await client.get("/metrics")).text
    org_id = api_org(sf_emulator).id
    assert "salesforce_api_usage_ratio_count" in metrics
    assert org_id not in metrics and org_id[:15] not in metrics
    assert connected not in metrics
    labels = set(re.findall(r"[{,]([a-z_]+)=", metrics))
    assert not labels & {"organization_id", "org_id", "workspace_id", "workspace", "org"}, labels


async def test_tokens_never_go_to_foreign_hosts(app: Any, sf_emulator: Any, connected: str) -> None:
    async with app.state.services.db.transaction() as session:
        row = await session.scalar(select(Connection).where(Connection.workspace_id == connected))
        assert row is not None
        row.instance_url = "https://attacker.example.com"
    sf_emulator.reset_counters()
    with pytest.raises(HostNotAllowed):
        await app.state.services.salesforce.query(connected, SOQL)
    assert sum(sf_emulator.counters.values()) == 0


def test_allowed_hosts(make_settings: Any) -> None:
    from app.salesforce.hosts import ensure_allowed

    settings = make_settings(salesforce_extra_allowed_hosts="127.0.0.1:8555")
    assert ensure_allowed("https://acme.my.salesforce.com/", settings) == (
        "https://acme.my.salesforce.com"
    )
    assert ensure_allowed("https://acme--dev.sandbox.my.salesforce.com", settings)
    assert ensure_allowed("http://127.0.0.1:8555", settings)
    for bad in (
        "http://acme.my.salesforce.com",
        "https://salesforce.com.evil.example",
        "https://evilsalesforce.com",
        "http://127.0.0.1:9999",
        "https://acme.my.salesforce.com:8443",
        "file:///etc/passwd",
    ):
        with pytest.raises(HostNotAllowed):
            ensure_allowed(bad, settings)
