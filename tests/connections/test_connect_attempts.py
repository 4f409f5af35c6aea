"""Uninstalled connected apps (since September 2025): a user without "Approve Uninstalled
Connected Apps" sees Salesforce's own error page for an app not installed in the org, and the
browser never comes back. The connect answer tells the admin what to do first, and a connect
whose link expired without a callback shows on the connection as `abandoned`."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.helpers.browser import GLOBEX_ADMIN, PASSWORD, Browser, login_form_fields
from tests.helpers.clock import FakeNow
from tests.helpers.emulator_control import control
from tests.helpers.wall_clock_app import app, now

__all__ = ["app", "now"]  # the app on a wall clock the tests move

GLOBEX = "00D8c000003VlcBEAS"
GLOBEX_ADMIN_ID = "0058c00000052ICAAY"


def parsed(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def start(browser: Browser, ws: str = "ws-1") -> dict[str, Any]:
    response = await browser.client.post(
        f"/v1/workspaces/{ws}/salesforce/connect", json={}, headers=browser.auth(ws, "owner")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def log_in_at_salesforce(authorize_url: str, username: str) -> httpx.Response:
    """The user's steps at Salesforce; the answer to the login form (not followed)."""
    async with httpx.AsyncClient(timeout=10) as salesforce:
        page = await salesforce.get(authorize_url)
        form = login_form_fields(page.text)
        form.update({"username": username, "password": PASSWORD, "decision": "allow"})
        parts = urlsplit(authorize_url)
        return await salesforce.post(
            f"{parts.scheme}://{parts.netloc}/services/oauth2/authorize", data=form
        )


async def without_permission(sf_emulator: Any) -> None:
    await control(
        sf_emulator,
        "PATCH",
        f"/orgs/{GLOBEX}/users/{GLOBEX_ADMIN_ID}",
        {"approve_uninstalled_apps": False},
    )


async def test_the_connect_answer_tells_the_admin_what_to_do_first(browser: Browser) -> None:
    body = await start(browser)

    guidance = body["admin_guidance"]
    assert "app must be installed into org" in guidance
    assert "Setup > Connected Apps OAuth Usage > Install" in guidance
    assert '"Approve Uninstalled Connected Apps"' in guidance


async def test_a_connect_that_never_came_back_shows_as_abandoned(
    browser: Browser, sf_emulator: Any, now: FakeNow
) -> None:
    await without_permission(sf_emulator)
    started = await start(browser)

    answer = await log_in_at_salesforce(started["authorize_url"], GLOBEX_ADMIN)

    # Salesforce's own error page: the browser is never sent to our callback.
    location = answer.headers["location"]
    assert "RemoteAccessErrorPage.apexp" in location
    assert "/v1/salesforce/oauth/callback" not in location
    status = await browser.status()
    assert status["status"] == "disconnected"
    assert status["last_connect_attempt"]["outcome"] == "pending"
    assert status["last_connect_attempt"]["likely_causes"] == []

    now.advance(minutes=11)

    status = await browser.status()
    attempt = status["last_connect_attempt"]
    assert status["status"] == "disconnected"
    assert attempt["outcome"] == "abandoned"
    assert parsed(attempt["expires_at"]) == parsed(started["expires_at"])
    assert any("Approve Uninstalled Connected Apps" in cause for cause in attempt["likely_causes"])
    assert any(
        "Connected Apps OAuth Usage > Install" in cause for cause in attempt["likely_causes"]
    )

    # The admin installs the app: the next connect comes back and the attempt is gone.
    await control(sf_emulator, "PATCH", f"/orgs/{GLOBEX}", {"connected_app_installed": True})
    assert (await browser.connect(username=GLOBEX_ADMIN)).status_code == 200
    status = await browser.status()
    assert status["status"] == "connected" and status["last_connect_attempt"] is None


async def test_an_abandoned_reauthorization_shows_on_the_connection(
    browser: Browser, sf_emulator: Any, now: FakeNow
) -> None:
    assert (await browser.connect(username=GLOBEX_ADMIN)).status_code == 200
    await without_permission(sf_emulator)
    now.advance(seconds=1)
    started = await start(browser)
    await log_in_at_salesforce(started["authorize_url"], GLOBEX_ADMIN)
    now.advance(minutes=11)

    status = await browser.status()

    assert status["status"] == "connected"  # the old grant still works
    assert status["last_connect_attempt"]["outcome"] == "abandoned"
