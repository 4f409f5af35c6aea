"""Conversation logging under faults: a slow Salesforce never slows the webhook's answer;
respond.io's 429s, Salesforce outages, a lost answer and a worker restart lose nothing and
still give exactly one Task."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import pytest

from tests.helpers.autocreate import running_worker, wait_until
from tests.helpers.conversations import (
    ACME,
    ANA,
    close,
    conversation,
    conversations,
    post,
    set_up,
    settled,
    signed,
    tasks_of,
)


async def control(sf: Any, path: str, body: Any) -> None:
    async with httpx.AsyncClient(base_url=sf.base_url) as http:
        response = await http.post(f"/__emulator{path}", json=body)
        assert response.status_code < 400, response.text


async def test_the_webhook_makes_no_salesforce_call_before_it_answers(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    sf_emulator.latency_ms = 1000
    event = close(rio, logging, conversation(rio, logging, 2))
    before = len(sf_emulator.rest_calls)

    answer = await post(client, logging, signed(rio, logging, event["event_id"]))

    assert answer.status_code == 200
    assert len(sf_emulator.rest_calls) == before  # Salesforce was not called to answer
    (row,) = await conversations(app)
    assert row.status == "pending"
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=60)
    assert len(await tasks_of(sf_emulator, ANA)) == 1
    assert len(sf_emulator.rest_calls) > before  # the worker called it, afterwards


async def test_the_webhook_answers_while_a_slow_salesforce_call_is_in_flight(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    first = close(rio, logging, conversation(rio, logging, 2))
    second = close(rio, logging, conversation(rio, logging, 3, email="ben.tan@example.com"))
    sf_emulator.latency_ms = 3000
    before = len(sf_emulator.rest_calls)
    async with running_worker(settings, reconcile=False):
        assert (await post(client, logging, signed(rio, logging, first["event_id"]))).is_success

        async def in_flight() -> bool:
            return any(c[1] is None for c in list(sf_emulator.rest_calls)[before:])

        await wait_until(in_flight, timeout=30, interval=0.01)
        slow = next(c for c in list(sf_emulator.rest_calls)[before:] if c[1] is None)

        answer = await post(client, logging, signed(rio, logging, second["event_id"]))
        answered_at = time.monotonic()

        assert answer.status_code == 200
        assert slow[1] is None or slow[1] > answered_at  # Salesforce had not answered yet
        sf_emulator.latency_ms = 0
        await wait_until(lambda: settled(app, 2), timeout=60)
    assert len(await tasks_of(sf_emulator, ANA)) == 1
    assert len(await tasks_of(sf_emulator, "0035g0000006Sh8AAE")) == 1


async def test_respondio_429s_and_a_salesforce_outage_still_give_one_task(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 120))
    rio.fail_next(3, status=429, retry_after=1)  # respond.io answers 429 for a while
    # Salesforce down for the first calls, then a Task created whose answer is lost.
    await control(
        sf_emulator, "/faults", {"org_id": ACME, "fault": "server_unavailable", "count": 3}
    )
    await control(
        sf_emulator,
        f"/orgs/{ACME}/write-faults",
        {"object": "Task", "operations": ["create"], "lose_answer": "error_503", "count": 1},
    )
    await post(client, logging, signed(rio, logging, event["event_id"]))
    await post(client, logging, signed(rio, logging, event["event_id"], new_id=True))

    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=90)

    (task,) = await tasks_of(sf_emulator, ANA)
    assert task["Description"].count("\n") == 120 + 1  # summary, blank line, 120 lines
    assert rio.counter_snapshot().get("429") == 3
    assert sf_emulator.counters.get("task.create") == 1  # the lost answer was settled, not resent
    (row,) = await conversations(app)
    assert (row.status, row.task_id) == ("logged", task["Id"])


async def test_a_restart_during_an_outage_loses_nothing(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 2))
    await control(
        sf_emulator, "/faults", {"org_id": ACME, "fault": "server_unavailable", "count": 100000}
    )
    await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):

        async def retried() -> bool:
            rows = await conversations(app)
            return bool(rows) and (rows[0].reason or "").startswith("retrying")

        await wait_until(retried, timeout=30)
    (row,) = await conversations(app)
    assert row.status == "pending"  # the worker stopped; the conversation waits

    await control(sf_emulator, "/faults", {"org_id": ACME, "fault": None})
    async with running_worker(settings, reconcile=False):  # a new worker takes it up
        await wait_until(lambda: settled(app), timeout=30)
    assert len(await tasks_of(sf_emulator, ANA)) == 1
    await asyncio.sleep(0)


async def test_logging_pauses_while_the_orgs_api_usage_is_high(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    lookup = "/v1/workspaces/ws-1/salesforce/contacts/lookup"

    async def usage_seen_by_a_lookup(used: int, email: str) -> None:
        async with httpx.AsyncClient(base_url=sf_emulator.base_url) as http:
            patched = await http.patch(f"/__emulator/orgs/{ACME}", json={"api_usage": used})
            assert patched.status_code == 200, patched.text
        answer = await client.get(lookup, params={"email": email}, headers=auth())
        assert answer.status_code == 200, answer.text
        await app.state.services.budget.flush()  # what every replica reads

    await usage_seen_by_a_lookup(13_000, "someone@example.com")  # 87% > 80%
    event = close(rio, logging, conversation(rio, logging, 2))
    await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):

        async def paused() -> bool:
            rows = await conversations(app)
            return bool(rows) and (rows[0].reason or "").startswith("paused")

        await wait_until(paused, timeout=30)
        assert await tasks_of(sf_emulator, ANA) == []
        await usage_seen_by_a_lookup(100, "someone.else@example.com")
        await wait_until(lambda: settled(app), timeout=30)
    (row,) = await conversations(app)
    assert row.status == "logged"
    assert len(await tasks_of(sf_emulator, ANA)) == 1


async def test_a_conversation_whose_job_was_lost_is_queued_again(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    """A re-queue that failed (the database cut at that moment) leaves a pending conversation
    without a job: the worker's sweep queues it again."""
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 2))
    await post(client, logging, signed(rio, logging, event["event_id"]))
    dsn = settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM pgqueuer")
        await conn.execute(
            "UPDATE logged_conversations SET next_attempt_at = now() - interval '1 minute'"
        )
    finally:
        await conn.close()
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=30)
    assert len(await tasks_of(sf_emulator, ANA)) == 1


async def test_an_attempt_that_outlived_its_lease_sends_nothing_once_another_took_over(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    """Two attempts on one conversation (the first's lease ran out mid-way, say while reading
    a very long conversation slowly): the one that finds the send marker moved sends no Task."""
    from pgqueuer import RetryRequested

    from app.conversation_logging.jobs import build_logger
    from app.worker import asyncpg_dsn

    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 2))
    await post(client, logging, signed(rio, logging, event["event_id"]))
    services = app.state.services
    pool = await asyncpg.create_pool(asyncpg_dsn(settings), min_size=1, max_size=2)
    try:
        logger = build_logger(
            pool,
            services.cipher,
            _respondio(settings, services),
            services.salesforce,
            services.budget,
            settings,
        )
        (row,) = await conversations(app)
        claimed = await logger._claim(row.id)
        assert claimed is not None
        plan = await logger.planner.plan(claimed, "rio-token-ws-1")
        # Meanwhile another attempt took the conversation over and is sending its Task.
        await pool.execute(
            "UPDATE logged_conversations SET task_sent_at = now() WHERE id = $1", row.id
        )
        with pytest.raises(RetryRequested):
            await logger._write(claimed, plan)  # type: ignore[arg-type]
    finally:
        await pool.close()
    assert await tasks_of(sf_emulator, ANA) == []


def _respondio(settings: Any, services: Any) -> Any:
    from app.respondio.client import RespondioClient

    return RespondioClient(services.http, settings.respondio_api_base_url, timeout=3.0)
