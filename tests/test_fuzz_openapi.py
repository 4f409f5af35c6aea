"""Schema-driven fuzzing of the served OpenAPI (schemathesis): every operation, with an
owner's, an agent's and another workspace's token, against the service on the Salesforce
emulator. Fails on any 5xx, any answer whose status, content type, headers or body the
OpenAPI does not document, and any answer that carries the other workspace's data.

Bounded and reproducible: a fixed number of derandomized examples per operation. The service
runs under uvicorn in a thread with its own event loop (schemathesis calls it synchronously).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.auth import mint_token
from app.config import Settings
from app.main import create_app
from tests.helpers.database import truncate_all
from tests.helpers.factories import grant_from_emulator, insert_connection

EXAMPLES_PER_OPERATION = 12
HOME, OTHER = "ws-fuzz-home", "ws-fuzz-other"
ACME = "00D5g000003GIV7EAO"  # HOME's org
GLOBEX = "00D8c000003VlcBEAS"  # OTHER's org
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Pages for people and Prometheus text: not JSON APIs.
SKIPPED_PATHS = ("/docs", "/redoc", "/metrics", "/openapi.json")


@pytest.fixture
def settings_for_fuzz(sf_settings: Settings) -> Settings:
    return sf_settings


class Served:
    """The app under uvicorn on a free port, in a thread with its own event loop."""

    def __init__(self, service_settings: Settings, emulator_url: str) -> None:
        self.settings = service_settings
        self.emulator_url = emulator_url
        self.url = ""
        self.openapi: dict[str, Any] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Served:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        app = create_app(self.settings)
        self.openapi = app.openapi()
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical")
        self._server = uvicorn.Server(config)
        serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        services = app.state.services
        for workspace, username in ((HOME, "admin@acme.example"), (OTHER, "admin@globex.example")):
            grant = await grant_from_emulator(self.emulator_url, username)
            await insert_connection(
                services.db, services.cipher, workspace, grant, login_url=self.emulator_url
            )
        self._ready.set()
        try:
            await serving
        finally:
            await truncate_all(self.settings.async_database_url)


@pytest.fixture
def served(settings_for_fuzz: Settings, sf_emulator: Any) -> Iterator[Served]:
    with Served(settings_for_fuzz, sf_emulator.base_url) as running:
        yield running


def leaks(caller: str, path: str, response: requests.Response) -> str | None:
    """Another workspace's data in the answer, or a foreign token let through."""
    text = response.text.lower()
    if caller == "other":
        if path.startswith("/v1/workspaces/") and response.status_code < 300:
            return f"another workspace's token was answered {response.status_code}"
        if ACME.lower() in text or "acme" in text:
            return "another workspace's token saw this workspace's org"
    elif GLOBEX.lower() in text or "globex" in text:
        return "this workspace's answer carries another workspace's org"
    return None


def test_every_operation_survives_schema_driven_fuzzing(
    served: Served, settings_for_fuzz: Settings
) -> None:
    tokens = {
        "owner": mint_token(settings_for_fuzz, workspace_id=HOME, role="owner", user_id="fuzz-1"),
        "agent": mint_token(settings_for_fuzz, workspace_id=HOME, role="agent", user_id="fuzz-2"),
        "other": mint_token(settings_for_fuzz, workspace_id=OTHER, role="owner", user_id="fuzz-3"),
    }
    schema = schemathesis.openapi.from_dict(served.openapi)
    failures: list[str] = []
    session = requests.Session()
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if not result.ok().path.startswith(SKIPPED_PATHS)
    ]
    assert len(operations) >= 10

    for operation in operations:
        run_operation(operation, tokens, served.url, session, failures)

    assert not failures, "\n\n".join(failures[:20])


def run_operation(
    operation: Any,
    tokens: dict[str, str],
    base_url: str,
    session: requests.Session,
    failures: list[str],
) -> None:
    seen: set[str] = set()

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), caller=st.sampled_from(sorted(tokens)))
    def fuzz(case: Any, caller: str) -> None:
        if case.path_parameters and "workspace_id" in case.path_parameters:
            case.path_parameters["workspace_id"] = HOME
        headers = {"Authorization": f"Bearer {tokens[caller]}"}
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        label = f"{operation.method.upper()} {operation.path} as {caller}"
        problem = leaks(caller, operation.path, response)
        if problem is not None:
            record(f"{label}: {problem}\n{case.as_curl_command(headers)}")
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # every failure, reported at the end
            record(f"{label}: {exc}".strip()[:2000])

    def record(message: str) -> None:
        key = message.split("\n", 1)[0][:200]
        if key not in seen:
            seen.add(key)
            failures.append(message)

    fuzz()


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
