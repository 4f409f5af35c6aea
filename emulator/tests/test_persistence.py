"""The emulators keep their state across restarts (`make run` stopped and started again):
a grant issued before the restart still answers after it, and so does a contact created in
the respond.io emulator."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from emulator.persistence import StateFile, dumps, load
from emulator.salesforce import SalesforceEmulator, token_holds
from emulator.tests.helpers import ANA, V, bearer, login, refresh

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def emulator_process(module: str, state_file: Path, *extra: str) -> Iterator[str]:
    """`python -m <module> --port P --state-file F`, stopped with SIGTERM as Ctrl+C would."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", module, "--port", str(port), "--state-file", str(state_file)]
    process = subprocess.Popen([*command, *extra], cwd=ROOT)  # noqa: S603
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)  # uvicorn re-raises SIGTERM once it has shut down


def test_a_grant_and_an_edit_survive_a_restart_of_the_salesforce_emulator(tmp_path: Path) -> None:
    state_file = tmp_path / "salesforce.pickle"
    callback = ("--callback-url", "https://app.example/oauth/callback")
    emu = SalesforceEmulator()  # only for its client id and secret (the process has the same)
    with (
        emulator_process("emulator", state_file, *callback) as url,
        httpx.Client(base_url=url) as c,
    ):
        tokens = login(c, emu)
        changed = c.patch(
            f"{V}/sobjects/Contact/{ANA}", json={"Title": "Kept"}, headers=bearer(tokens)
        )
        assert changed.status_code == 204, changed.text
    assert state_file.exists()

    with (
        emulator_process("emulator", state_file, *callback) as url,
        httpx.Client(base_url=url) as c,
    ):
        read = c.get(f"{V}/sobjects/Contact/{ANA}", headers=bearer(tokens))
        assert read.status_code == 200, read.text
        assert read.json()["Title"] == "Kept"
        renewed = refresh(c, emu, tokens["refresh_token"])
        assert renewed.status_code == 200, renewed.text


def test_a_contact_survives_a_restart_of_the_respondio_emulator(tmp_path: Path) -> None:
    state_file = tmp_path / "respondio.pickle"
    headers = {"Authorization": "Bearer demo-token"}
    body = {"firstName": "Ana", "email": "ana@example.com"}
    with emulator_process("emulator.respondio", state_file) as url:
        created = httpx.post(f"{url}/v2/contact/email:ana@example.com", json=body, headers=headers)
        assert created.status_code == 200, created.text
    with emulator_process("emulator.respondio", state_file) as url:
        found = httpx.get(f"{url}/v2/contact/email:ana@example.com", headers=headers)
        assert found.status_code == 200, found.text
        assert found.json()["firstName"] == "Ana"


def test_locks_come_back_as_fresh_locks_and_the_state_works(tmp_path: Path) -> None:
    state = SalesforceEmulator()
    state.revoke_grants()  # takes the lock: the restored one must work too
    path = tmp_path / "state.pickle"
    path.write_bytes(dumps(state))
    restored = load(path, SalesforceEmulator)
    assert restored is not None
    with restored._lock:
        assert restored.orgs.keys() == state.orgs.keys()


def test_an_unreadable_file_is_set_aside_and_the_emulator_starts_fresh(tmp_path: Path) -> None:
    path = tmp_path / "state.pickle"
    path.write_bytes(b"not a pickle")
    assert load(path, SalesforceEmulator) is None
    assert not path.exists()
    assert (tmp_path / "state.pickle.unreadable").read_bytes() == b"not a pickle"


def test_the_file_is_written_only_when_the_state_changed(tmp_path: Path) -> None:
    state = SalesforceEmulator()
    saver = StateFile(tmp_path / "s.pickle", state)
    saver.path.parent.mkdir(parents=True, exist_ok=True)
    saver.save()
    first = saver.path.stat().st_mtime_ns
    saver.save()
    assert saver.path.stat().st_mtime_ns == first
    state.revoke_grants()
    state.counters["changed"] += 1
    saver.save()
    assert load(saver.path, SalesforceEmulator).counters["changed"] == 1  # type: ignore[union-attr]


def test_client_credentials_apps_and_settings_survive_and_held_requests_do_not_block(
    tmp_path: Path,
) -> None:
    state = SalesforceEmulator()
    org = next(iter(state.orgs.values()))
    app = state.add_client_credentials_app(org.id, org.default_user.id)
    org.connected_app_installed = False
    token_holds.holds(state)["refresh_token"] = threading.Event()  # kept beside the state
    path = tmp_path / "state.pickle"
    path.write_bytes(dumps(state))

    restored = load(path, SalesforceEmulator)

    assert restored is not None
    assert restored.client_credentials_token(app.client_id, app.client_secret).user_id == (
        org.default_user.id
    )
    assert restored.orgs[org.id].connected_app_installed is False
    assert token_holds.holds(restored) == {}


def test_a_state_of_another_version_starts_fresh(tmp_path: Path) -> None:
    state = SalesforceEmulator()
    state.state_version = SalesforceEmulator.STATE_VERSION - 1  # before its fields changed
    path = tmp_path / "state.pickle"
    path.write_bytes(dumps(state))
    assert load(path, SalesforceEmulator) is None
