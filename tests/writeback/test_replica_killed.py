"""A create whose replica is SIGKILLed while Salesforce is answering: the record exists in
Salesforce, its answer never reached the dead process, and the key was left pending. The
caller retries on another replica with the same `Idempotency-Key`: "in progress" (409 with
`Retry-After`) while the dead attempt's lease runs (`WRITEBACK_LEASE_SECONDS`, short here),
then the record Salesforce made is answered, and there is exactly one.

Both replicas are real processes (uvicorn) on the test's database and Salesforce emulator."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.helpers.autocreate import wait_until
from tests.helpers.contact_app import ACME
from tests.helpers.processes import service_processes
from tests.writeback.test_lost_create_answers import contacts_named
from tests.writeback.test_writeback import BASE, WS, control, setup

# Short timings so the test takes seconds; the lease must outlast an attempt (2 x timeout + 1).
REPLICA = {"salesforce_timeout_seconds": 3, "writeback_lease_seconds": 7}
RETRY_FOR_SECONDS = 30.0


async def test_a_create_whose_replica_died_mid_answer_is_one_record_after_a_retry_elsewhere(
    client: httpx.AsyncClient,
    auth: Any,
    connect: Any,
    sf_emulator: Any,
    settings: Settings,
    tmp_path: Path,
) -> None:
    await setup(client, auth, connect)
    fields = {"FirstName": "Killed", "LastName": "Midanswer", "Email": "killed@x.example"}
    headers = {**auth(WS, "agent"), "Idempotency-Key": "replica-killed"}
    # Salesforce makes the record, then holds its answer.
    await control(
        sf_emulator,
        "POST",
        f"/orgs/{ACME}/write-faults",
        {"object": "Contact", "operations": ["create"], "lose_answer": "hang", "hang_seconds": 10},
    )
    async with (
        service_processes(settings, tmp_path, 2, **REPLICA) as (a, b),
        httpx.AsyncClient(base_url=a.base_url, timeout=30) as to_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=30) as to_b,
    ):
        first = asyncio.create_task(
            to_a.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
        )

        async def made_in_salesforce() -> bool:
            return sf_emulator.counters.get("contact.create", 0) == 1

        await wait_until(made_in_salesforce)
        a.process.send_signal(signal.SIGKILL)
        await a.process.wait()
        with pytest.raises(httpx.TransportError):
            await first  # the caller saw the connection die, no answer

        statuses = []
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        while True:
            retry = await to_b.post(f"{BASE}/contacts", json={"fields": fields}, headers=headers)
            statuses.append(retry.status_code)
            if retry.status_code != 409 or time.monotonic() > deadline:
                break
            assert retry.json()["code"] == "idempotency_key_in_progress"
            assert int(retry.headers["Retry-After"]) >= 1
            await asyncio.sleep(0.25)

    assert statuses[0] == 409  # the dead attempt's lease was still running
    assert retry.status_code == 200, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    made = await contacts_named(sf_emulator, "Midanswer")
    assert [c["Id"] for c in made] == [retry.json()["id"]]
    assert sf_emulator.counters["contact.create"] == 1


def test_the_lease_ends_within_30_seconds_and_outlasts_an_attempt(make_settings: Any) -> None:
    assert make_settings().writeback_lease_seconds == 25  # 2 x the default 10 s timeout + 5
    with pytest.raises(ValidationError, match="less than or equal to 30"):
        make_settings(writeback_lease_seconds=31)
    with pytest.raises(ValidationError, match="at least 21"):
        make_settings(salesforce_timeout_seconds=10, writeback_lease_seconds=20)
    assert make_settings(**REPLICA).writeback_lease_seconds == 7
