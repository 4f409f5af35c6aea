"""Browser tests: Playwright drives the machine's Chromium against the service served over
real HTTP (uvicorn in a thread, on a free loopback port) and the Salesforce emulator.

Chromium is the OS package (`/usr/bin/chromium`, or CHROMIUM_PATH); Playwright never downloads
a browser. Without Chromium these tests fail. SKIP_BROWSER_TESTS=1 skips them on a laptop; on
CI (CI=true) that opt-out is ignored. Every request to a host other than 127.0.0.1 or
localhost is blocked, recorded, and fails the test.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from tests.browser.chromium import CHROMIUM_ARGS, chromium_path
from tests.helpers.database import truncate_all
from tests.helpers.factories import login_form_fields

PASSWORD = "emulator"
ACME_ADMIN = "admin@acme.example"
GLOBEX_ADMIN = "admin@globex.example"
INITECH_ADMIN = "admin@initech.example"  # the seed org without API access
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def require_chromium() -> str:
    """Chromium's path; else the tests fail, or skip on SKIP_BROWSER_TESTS=1 outside CI."""
    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    if os.environ.get("SKIP_BROWSER_TESTS") == "1" and not ci:
        pytest.skip("SKIP_BROWSER_TESTS=1: browser tests skipped")
    path = chromium_path()
    if path is None:
        pytest.fail(
            "Chromium is not installed: the browser tests need the OS package (`apt-get "
            "install chromium`, or set CHROMIUM_PATH). On a laptop, SKIP_BROWSER_TESTS=1 "
            "skips them."
        )
    return path


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    return require_chromium()


@pytest.fixture(scope="session")
async def chromium(chromium_executable: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Page:
    """A fresh browser context and page; `external` lists every blocked non-local request,
    `errors` every uncaught script error (both fail the test)."""

    page: Any
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
async def browser_page(chromium: Any) -> AsyncIterator[Page]:
    context = await chromium.new_context()
    context.set_default_timeout(15_000)
    result = Page(page=None)

    async def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and (
            urlsplit(url).hostname not in LOCAL_HOSTS
        ):
            result.external.append(url)
            await route.abort()
        else:
            await route.continue_()

    await context.route("**/*", guard)
    result.page = await context.new_page()
    result.page.on("pageerror", lambda error: result.errors.append(str(error)))
    try:
        yield result
    finally:
        await context.close()
    assert result.external == [], f"the page tried to reach other hosts: {result.external}"
    assert result.errors == [], f"uncaught script errors: {result.errors}"


@dataclass
class LiveService:
    url: str
    app: Any
    settings: Settings
    auth: Callable[..., dict[str, str]]

    def connect_url(self, workspace: str) -> str:
        return f"{self.url}/v1/workspaces/{workspace}/salesforce/connect"


def _serve(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    """uvicorn with the app's lifespan (database pool, HTTP client) in a daemon thread."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    return server, thread


@pytest.fixture(scope="session")
def respondio_url() -> Iterator[str]:
    """The respond.io emulator (the preview's demo conversation closes one there)."""
    from emulator.respondio import RespondioEmulator
    from emulator.respondio import create_app as create_respondio_app
    from emulator.server import start_in_thread

    running = start_in_thread(create_respondio_app(RespondioEmulator()))
    try:
        yield running.url
    finally:
        running.stop()


@pytest.fixture
def live_service(
    make_settings: Callable[..., Settings],
    sf_emulator: Any,
    respondio_url: str,
    auth: Callable[..., dict[str, str]],
) -> Iterator[LiveService]:
    """The service on a free loopback port, its OAuth redirect pointing at itself, Salesforce
    and respond.io at the emulators, and the sidebar preview mounted (it is only in
    development apps)."""
    from app.preview.router import preview_router

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(
        public_base_url=url,
        salesforce_login_url=sf_emulator.base_url,
        salesforce_sandbox_login_url=sf_emulator.base_url,
        salesforce_extra_allowed_hosts=sf_emulator.base_url.split("://", 1)[1],
        respondio_api_base_url=respondio_url + "/v2",
    )
    # Like a Connected App's settings: Salesforce only sends the browser back to a registered
    # callback URL.
    sf_emulator.apps[sf_emulator.client_id].callback_urls.append(
        f"{url}/v1/salesforce/oauth/callback"
    )
    app = create_app(settings)
    app.include_router(preview_router(settings))
    server, thread = _serve(app, sock)
    try:
        yield LiveService(url, app, settings, auth)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
async def clean_database(live_service: LiveService) -> AsyncIterator[None]:
    yield
    await truncate_all(live_service.settings.async_database_url)


async def start_connect(live: LiveService, workspace: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            live.connect_url(workspace), json={}, headers=live.auth(workspace, "owner")
        )
    assert response.status_code == 200, response.text
    authorize_url: str = response.json()["authorize_url"]
    return authorize_url


async def connect_without_browser(live: LiveService, workspace: str, username: str) -> None:
    """The OAuth flow over plain HTTP (login form, Allow, callback): a connected workspace."""
    authorize_url = await start_connect(live, workspace)
    async with httpx.AsyncClient(timeout=10) as http:
        form = login_form_fields((await http.get(authorize_url)).text)
        form.update({"username": username, "password": PASSWORD, "decision": "allow"})
        parts = urlsplit(authorize_url)
        answer = await http.post(
            f"{parts.scheme}://{parts.netloc}/services/oauth2/authorize", data=form
        )
        assert answer.status_code in (302, 303), answer.text
        done = await http.get(answer.headers["location"], headers={"Accept": "application/json"})
    assert done.status_code == 200, done.text
