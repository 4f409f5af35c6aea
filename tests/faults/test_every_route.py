"""Fault injection over every route: with PostgreSQL cut (refused and reset) or blackholed
(accepting, never answering) while requests run, every route answers within a bounded time,
503 `service_unavailable` with `Retry-After` or its documented non-5xx answer; within 10 s of
the restore every route answers as before, without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.helpers.faultproxy import FaultProxy
from tests.helpers.routes import call_route, operations

ANSWERED_WITHIN = 30.0  # generous: "answered", not how fast
RECOVERED_WITHIN = 10.0
NEED_THE_DATABASE = {
    ("GET", "/readyz"),
    ("GET", "/v1/workspaces/{workspace_id}/salesforce/settings"),
    ("PUT", "/v1/workspaces/{workspace_id}/salesforce/settings"),
    ("GET", "/v1/workspaces/{workspace_id}/salesforce/connection"),
    ("DELETE", "/v1/workspaces/{workspace_id}/salesforce/connection"),
    ("POST", "/v1/workspaces/{workspace_id}/salesforce/connect"),
    ("GET", "/v1/workspaces/{workspace_id}/respondio-credentials"),
    ("PUT", "/v1/workspaces/{workspace_id}/respondio-credentials"),
    ("GET", "/v1/workspaces/{workspace_id}/salesforce/auto-create/status"),
    ("GET", "/v1/salesforce/oauth/callback"),
    ("POST", "/v1/webhooks/salesforce/outbound-messages/{key}"),
}


def assert_answered_through_the_fault(op: tuple[str, str], response: httpx.Response) -> None:
    if response.status_code >= 500:
        assert response.status_code == 503, (op, response.status_code, response.text[:300])
        assert int(response.headers["retry-after"]) > 0, op


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
async def test_every_route_answers_through_a_database_fault_and_recovers(
    proxied_client: httpx.AsyncClient,
    pg_proxy: FaultProxy,
    auth: Callable[..., dict[str, str]],
    fault: str,
) -> None:
    ops = operations(proxied_client._transport.app)  # type: ignore[attr-defined]
    assert len(ops) >= 25
    before = {op: (await call_route(proxied_client, auth, *op)).status_code for op in ops}
    assert all(status < 500 for op, status in before.items() if op != ("GET", "/readyz")), before

    # The fault strikes while a request to every route is in flight.
    in_flight = [asyncio.ensure_future(call_route(proxied_client, auth, *op)) for op in ops]
    await asyncio.sleep(0)
    await getattr(pg_proxy, fault)()
    async with asyncio.timeout(ANSWERED_WITHIN):
        answers = await asyncio.gather(*in_flight)
    for op, response in zip(ops, answers, strict=True):
        assert_answered_through_the_fault(op, response)

    # Then, with the fault in place: each route answers 503 with Retry-After or, where it can
    # answer from memory (a workspace's cached "not connected", liveness, metrics), what it
    # answered before; the routes that must read or write the database are 503.
    async with asyncio.timeout(ANSWERED_WITHIN):
        answers = await asyncio.gather(*(call_route(proxied_client, auth, *op) for op in ops))
    for op, response in zip(ops, answers, strict=True):
        assert_answered_through_the_fault(op, response)
        assert response.status_code in (503, before[op]), (op, response.status_code)
        if op in NEED_THE_DATABASE:
            assert response.status_code == 503, (op, response.status_code, response.text[:300])

    await pg_proxy.restore()
    async with asyncio.timeout(RECOVERED_WITHIN):
        pending = set(ops)
        while pending:
            for op in sorted(pending):
                if (await call_route(proxied_client, auth, *op)).status_code == before[op]:
                    pending.discard(op)
            if pending:
                await asyncio.sleep(0.2)
