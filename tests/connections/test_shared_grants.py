"""One grant per Salesforce user (contract 10.2): Salesforce keeps five approvals of an app
per user and revokes the oldest at the sixth, so the workspaces one Salesforce user connects
share one stored grant. Connecting more of them keeps every one working, reauthorizing from
one renews all, and only the last disconnect revokes (10.11: no revoke call of any kind
before)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.config import Settings
from tests.helpers.browser import ACME_ADMIN, ACME_SALES, Browser
from tests.helpers.emulator_control import control
from tests.helpers.factories import grant_of
from tests.helpers.lookups import lookup
from tests.helpers.processes import run_together

ACME = "00D5g000003GIV7EAO"
ANA = "ana.souza@example.com"
PRIYA = "priya.raman@example.com"
WORKSPACES = [f"ws-{n}" for n in range(1, 9)]


async def found(browser: Browser, ws: str, email: str = ANA) -> bool:
    response = await lookup(browser.client, browser.auth, ws=ws, email=email)
    assert response.status_code == 200, (ws, response.text)
    return bool(response.json()["matched"])


async def test_eight_workspaces_of_one_user_share_a_grant_and_only_the_last_revokes(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    for ws in WORKSPACES:
        assert (await browser.connect(ws)).status_code == 200

    # Each connect renewed the one grant and revoked the approval it replaced: Salesforce's
    # limit of five approvals never took any workspace's grant.
    assert sf_emulator.counters["token.authorization_code"] == 8
    assert sf_emulator.counters["revoke"] == 7
    assert sf_emulator.counters["approval_limit.revoked"] == 0
    assert len({(await grant_of(app.state.services.db, ws)).id for ws in WORKSPACES}) == 1  # type: ignore[union-attr]
    for ws in WORKSPACES:
        assert await found(browser, ws)
        status = await browser.status(ws)
        assert (status["status"], status["shared_grant_workspaces"]) == ("connected", 8)

    sf_emulator.reset_counters()
    for ws in WORKSPACES[:7]:
        assert (await browser.disconnect(ws)).status_code == 204
        assert (await browser.status(ws))["status"] == "disconnected"

    assert sf_emulator.counters["revoke"] == 0  # no revoke call of any kind
    last = WORKSPACES[-1]
    assert await found(browser, last, PRIYA)
    assert (await browser.status(last))["shared_grant_workspaces"] == 1
    grant = await grant_of(app.state.services.db, last)
    assert grant is not None and grant.refresh_token_encrypted is not None
    refresh_token = app.state.services.cipher.decrypt(grant.refresh_token_encrypted)
    assert sf_emulator.refresh_grant(refresh_token) is not None

    assert (await browser.disconnect(last)).status_code == 204
    assert sf_emulator.counters["revoke"] == 1
    assert sf_emulator.refresh_grant(refresh_token) is None


async def test_reauthorizing_from_one_workspace_renews_all(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    for ws in ("ws-1", "ws-2"):
        assert (await browser.connect(ws)).status_code == 200
        assert await found(browser, ws)
    # The grant dies at Salesforce (revoked by an admin, or expired by policy).
    sf_emulator.revoke_grants(ACME)
    response = await lookup(browser.client, browser.auth, ws="ws-1", email=PRIYA)
    assert response.json()["code"] == "salesforce_reauthorization_required"
    assert (await browser.status("ws-2"))["status"] == "reauthorization_required"
    sf_emulator.reset_counters()

    assert (await browser.connect("ws-2")).status_code == 200

    for ws in ("ws-1", "ws-2"):
        assert (await browser.status(ws))["status"] == "connected"
    # ws-1 uses the renewed grant at once: no failed call, no token request.
    assert await found(browser, "ws-1", PRIYA)
    assert sf_emulator.counters["session.invalid"] == 0
    assert sf_emulator.counters["token.refresh_token"] == 0


async def test_a_refresh_from_one_workspace_serves_the_others(
    browser: Browser, sf_emulator: Any
) -> None:
    for ws in ("ws-1", "ws-2", "ws-3"):
        assert (await browser.connect(ws)).status_code == 200
        assert await found(browser, ws)  # each holds the token in memory
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()

    assert await found(browser, "ws-1", PRIYA)
    assert sf_emulator.counters["token.refresh_token"] == 1
    assert sf_emulator.counters["session.invalid"] == 1
    # The others took the renewed token from memory: no refused call, no token request.
    assert await found(browser, "ws-2", PRIYA)
    assert await found(browser, "ws-3", PRIYA)
    assert sf_emulator.counters["token.refresh_token"] == 1
    assert sf_emulator.counters["session.invalid"] == 1


async def test_other_users_keep_their_own_grants(
    browser: Browser, app: Any, sf_emulator: Any
) -> None:
    assert (await browser.connect("ws-1", username=ACME_ADMIN)).status_code == 200
    assert (await browser.connect("ws-2", username=ACME_ADMIN)).status_code == 200
    assert (await browser.connect("ws-3", username=ACME_SALES)).status_code == 200
    assert [(await browser.status(ws))["shared_grant_workspaces"] for ws in ("ws-1", "ws-3")] == [
        2,
        1,
    ]
    sf_emulator.reset_counters()

    # ws-2 moves to the sales user: the admin's grant stays (ws-1 uses it), unrevoked.
    assert (await browser.connect("ws-2", username=ACME_SALES)).status_code == 200
    assert [(await browser.status(ws))["shared_grant_workspaces"] for ws in ("ws-1", "ws-2")] == [
        1,
        2,
    ]
    assert sf_emulator.counters["revoke"] == 1  # only the sales user's replaced approval
    assert await found(browser, "ws-1") and await found(browser, "ws-2")

    # ws-1 moves too: now nobody uses the admin's grant, so it is revoked.
    admin_grant = await grant_of(app.state.services.db, "ws-1")
    assert admin_grant is not None and admin_grant.refresh_token_encrypted is not None
    old = app.state.services.cipher.decrypt(admin_grant.refresh_token_encrypted)
    assert (await browser.connect("ws-1", username=ACME_SALES)).status_code == 200
    assert sf_emulator.refresh_grant(old) is None
    assert (await browser.status("ws-1"))["shared_grant_workspaces"] == 3


async def test_a_dead_grant_needs_reauthorization_in_every_workspace(
    browser: Browser, sf_emulator: Any
) -> None:
    for ws in ("ws-1", "ws-2"):
        assert (await browser.connect(ws)).status_code == 200
    sf_emulator.revoke_grants(ACME)

    response = await lookup(browser.client, browser.auth, ws="ws-2", email=ANA)

    assert response.status_code == 409
    assert response.json()["reason"] == "grant_expired_or_revoked"
    for ws in ("ws-1", "ws-2"):
        status = await browser.status(ws)
        assert status["status"] == "reauthorization_required"
        assert status["status_reason"] == "grant_expired_or_revoked"


async def test_two_processes_and_two_workspaces_refresh_a_shared_grant_once(
    browser: Browser, sf_emulator: Any, settings: Settings
) -> None:
    for ws in ("ws-1", "ws-2"):
        assert (await browser.connect(ws)).status_code == 200
    sf_emulator.rotate_refresh_tokens = True  # a second refresh would kill the grant
    sf_emulator.expire_access_tokens()
    sf_emulator.reset_counters()

    summaries = await run_together(
        "workspace/refresh_process.py", [["ws-1", "15"], ["ws-2", "15"]], settings
    )

    assert summaries == [{"ok": 15, "failed": 0}] * 2
    assert sf_emulator.counters["token.refresh_token"] == 1
    assert await found(browser, "ws-1", PRIYA) and await found(browser, "ws-2", PRIYA)


async def test_a_refresh_refused_because_a_connect_renewed_the_grant_uses_the_new_one(
    browser: Browser, sf_emulator: Any
) -> None:
    """ws-1 refreshes with the old refresh token while ws-2 reconnects the same user; the
    connect revokes the token the refresh carries, so Salesforce refuses it. The grant is not
    dead: ws-1 uses the renewed one, and no workspace is asked to reconnect."""
    for ws in ("ws-1", "ws-2"):
        assert (await browser.connect(ws)).status_code == 200
    sf_emulator.expire_access_tokens()
    await control(sf_emulator, "POST", "/token-holds", {"grant_type": "refresh_token"})
    sf_emulator.reset_counters()

    refreshing = asyncio.create_task(lookup(browser.client, browser.auth, ws="ws-1", email=PRIYA))
    for _ in range(200):
        if sf_emulator.counters["token.refresh_token"]:
            break
        await asyncio.sleep(0.05)
    assert sf_emulator.counters["token.refresh_token"] == 1  # sent, held at Salesforce
    assert (await browser.connect("ws-2")).status_code == 200  # renews, revokes the old
    await control(sf_emulator, "DELETE", "/token-holds")
    response = await refreshing

    assert response.status_code == 200, response.text
    assert response.json()["matched"] is True
    for ws in ("ws-1", "ws-2"):
        assert (await browser.status(ws))["status"] == "connected"
