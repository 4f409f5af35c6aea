"""`make run` (python -m app.cli run): ports from PORT / EMULATOR_PORT /
RESPONDIO_EMULATOR_PORT, a taken port refused in one line before anything starts, and a demo
that survives being stopped and started again (the OAuth flow through the chosen ports, then
a lookup after the restart without reconnecting)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from app.devserver import Ports
from tests.helpers.database import truncate_all
from tests.helpers.factories import login_form_fields

ROOT = Path(__file__).resolve().parent.parent


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_ports_default_to_8000_8555_8556() -> None:
    assert Ports.from_env({}) == Ports(service=8000, salesforce=8555, respondio=8556)


def test_ports_follow_the_environment() -> None:
    env = {"PORT": "9100", "EMULATOR_PORT": "9101", "RESPONDIO_EMULATOR_PORT": "9102"}
    assert Ports.from_env(env) == Ports(service=9100, salesforce=9101, respondio=9102)


@pytest.mark.parametrize("value", ["http", "0", "70000", "-1"])
def test_a_port_that_is_no_port_is_refused(value: str) -> None:
    with pytest.raises(SystemExit, match="EMULATOR_PORT"):
        Ports.from_env({"EMULATOR_PORT": value})


def test_the_same_port_twice_is_refused() -> None:
    port = free_ports(1)[0]
    respondio, pubsub = free_ports(2)
    ports = Ports(service=port, salesforce=port, respondio=respondio, pubsub=pubsub)
    complaint = ports.taken("127.0.0.1", with_emulators=True)
    assert complaint is not None and "EMULATOR_PORT and PORT" in complaint


def test_a_taken_port_is_one_line_before_anything_starts(database_url: str) -> None:
    service, salesforce, respondio, pubsub = free_ports(4)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", respondio))
        busy.listen(1)
        env = {
            **os.environ,
            "PORT": str(service),
            "EMULATOR_PORT": str(salesforce),
            "RESPONDIO_EMULATOR_PORT": str(respondio),
            "PUBSUB_EMULATOR_PORT": str(pubsub),
            "DATABASE_URL": database_url,
        }
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "app.cli", "run"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {respondio} (RESPONDIO_EMULATOR_PORT)" in lines[0]
    # Nothing was started: the other two ports are still free.
    untouched = Ports(service, salesforce, free_ports(1)[0], pubsub)
    assert untouched.taken("127.0.0.1", with_emulators=True) is None


@contextmanager
def dev_run(env: dict[str, str], port: int, output: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m app.cli run` until its service answers; SIGTERM (what `kill` and a
    supervisor send) at the end, and every process it started must be gone."""
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "app.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=output.open("wb"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, "make run ended on its own"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        # The whole process group (emulators, worker, uvicorn) stops with it.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("a process started by make run outlived it by 15 s")


def connect_through_the_emulator(service: str, token: str) -> None:
    """The owner's connect, the emulator's login page, Allow, and the service's callback."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=20) as http:
        started = http.post(
            f"{service}/v1/workspaces/demo-workspace/salesforce/connect", json={}, headers=headers
        )
        assert started.status_code == 200, started.text
        authorize_url = started.json()["authorize_url"]
        page = http.get(authorize_url)
        assert page.status_code == 200, page.text
        form = login_form_fields(page.text)
        form.update({"username": "admin@acme.example", "password": "emulator", "decision": "allow"})
        parts = urlsplit(authorize_url)
        allowed = http.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form)
        assert allowed.status_code in (302, 303), allowed.text
        callback = allowed.headers["location"]
        assert callback.startswith(f"{service}/v1/salesforce/oauth/callback")
        landed = http.get(callback)
        assert landed.status_code == 200, landed.text
        assert "Acme" in landed.text


def lookup_ana(service: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{service}/v1/workspaces/demo-workspace/salesforce/contacts/lookup",
        params={"email": "ana.souza@example.com"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )


async def test_the_demo_on_chosen_ports_survives_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    service_port, salesforce, respondio, pubsub = free_ports(4)
    env = {
        **os.environ,
        "PORT": str(service_port),
        "EMULATOR_PORT": str(salesforce),
        "RESPONDIO_EMULATOR_PORT": str(respondio),
        "PUBSUB_EMULATOR_PORT": str(pubsub),
        "DATABASE_URL": database_url,
        "DEMO_DATA_DIR": str(tmp_path),
        "CHANGE_STREAM_ENABLED": "false",
    }
    env.pop("ENVIRONMENT", None)
    service = f"http://127.0.0.1:{service_port}"
    try:
        with dev_run(env, service_port, tmp_path / "first.log"):
            banner = (tmp_path / "first.log").read_text()
            printed = re.search(r"^  Owner token: (\S+)$", banner, re.MULTILINE)
            assert printed is not None, banner
            # The printed token, used after the restart too: the development secret stays.
            token = printed.group(1)
            connect_through_the_emulator(service, token)
            first = lookup_ana(service, token)
            assert first.status_code == 200, first.text
            assert first.json()["matched"] is True
        assert (tmp_path / "emulator" / "salesforce.pickle").exists()
        with dev_run(env, service_port, tmp_path / "second.log"):
            again = lookup_ana(service, token)
            assert again.status_code == 200, again.text
            assert again.json()["matched"] is True
    finally:
        await truncate_all(database_url)
