"""`make run` streams: the Salesforce emulator serves its Pub/Sub API on
PUBSUB_EMULATOR_PORT, the worker subscribes for the demo workspace's org, and a Contact
changed in the emulator shows in the next lookup at once."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx

from app.auth import mint_token
from app.config import Settings
from tests.helpers.autocreate import ACME
from tests.helpers.database import truncate_all
from tests.test_dev_run import connect_through_the_emulator, dev_run, free_ports, lookup_ana


def wait_for(check: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def test_make_run_streams_the_demo_orgs_changes(database_url: str, tmp_path: Path) -> None:
    service_port, salesforce, respondio, pubsub = free_ports(4)
    env = {
        **os.environ,
        "PORT": str(service_port),
        "EMULATOR_PORT": str(salesforce),
        "RESPONDIO_EMULATOR_PORT": str(respondio),
        "PUBSUB_EMULATOR_PORT": str(pubsub),
        "DATABASE_URL": database_url,
        "DEMO_DATA_DIR": str(tmp_path),
    }
    env.pop("ENVIRONMENT", None)
    env.pop("CHANGE_STREAM_ENABLED", None)
    service = f"http://127.0.0.1:{service_port}"
    token = mint_token(
        Settings(_env_file=None, environment="development"),  # type: ignore[call-arg]
        workspace_id="demo-workspace",
        role="owner",
        user_id="test",
    )
    headers = {"Authorization": f"Bearer {token}"}
    connection = f"{service}/v1/workspaces/demo-workspace/salesforce/connection"
    try:
        with dev_run(env, service_port, tmp_path / "run.log"):
            connect_through_the_emulator(service, token)

            def streaming() -> bool:
                view = httpx.get(connection, headers=headers).json()
                return view["change_stream"]["state"] == "streaming"

            wait_for(streaming)
            first = lookup_ana(service, token).json()
            assert first["cached"] is False
            assert lookup_ana(service, token).json()["cached"] is True
            emulator = f"http://127.0.0.1:{salesforce}/__emulator/orgs/{ACME}"
            changed = httpx.patch(
                f"{emulator}/contacts/{first['contact']['id']}", json={"Title": "Streamed"}
            )
            assert changed.status_code == 200, changed.text

            def fresh() -> bool:
                body = lookup_ana(service, token).json()
                return any(f["value"] == "Streamed" for f in body["contact"]["fields"])

            wait_for(fresh, 20)
    finally:
        asyncio.run(truncate_all(database_url))
