"""Connecting to orgs as they really are: a user without "API Enabled" gets the same
explanation as an org without API access, and reconnecting the same org keeps the webhook
URL an admin pasted into an Outbound Message."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.browser import ACME_ADMIN, ACME_SALES, Browser
from tests.helpers.emulator_control import control

ACME = "00D5g000003GIV7EAO"
ACME_SALES_ID = "0055g000000GR44AAG"
ACME_ADMIN_ID = "0055g000000GR2fAAG"


async def without_api(sf_emulator: Any, user_id: str) -> None:
    await control(sf_emulator, "PATCH", f"/orgs/{ACME}/users/{user_id}", {"api_enabled": False})


async def test_a_user_without_api_enabled_gets_the_api_disabled_page(
    browser: Browser, sf_emulator: Any
) -> None:
    await without_api(sf_emulator, ACME_SALES_ID)

    response = await browser.connect(username=ACME_SALES)

    assert response.status_code == 403, response.text
    assert "Error code: salesforce_api_disabled" in response.text
    assert "must have API access" in response.text
    assert (await browser.status())["status"] == "disconnected"


async def test_api_access_lost_later_is_the_same_answer(browser: Browser, sf_emulator: Any) -> None:
    assert (await browser.connect(username=ACME_ADMIN)).status_code == 200
    await without_api(sf_emulator, ACME_ADMIN_ID)

    response = await browser.client.get(
        "/v1/workspaces/ws-1/salesforce/contacts/lookup",
        params={"email": "ana.souza@example.com"},
        headers=browser.auth(),
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "salesforce_api_disabled"
    response = await browser.client.get(
        "/v1/workspaces/ws-1/salesforce/fields", headers=browser.auth()
    )
    assert response.json()["code"] == "salesforce_api_disabled"


async def webhook_url(browser: Browser) -> str:
    response = await browser.client.get(
        "/v1/workspaces/ws-1/salesforce/webhook", headers=browser.auth(role="manager")
    )
    assert response.status_code == 200, response.text
    return str(response.json()["outbound_message_url"])


async def test_reconnecting_the_same_org_keeps_the_webhook_url(browser: Browser) -> None:
    assert (await browser.connect(username=ACME_ADMIN)).status_code == 200
    first = await webhook_url(browser)

    # "Update access": the same org again, as another user of it.
    assert (await browser.connect(username=ACME_SALES)).status_code == 200
    assert await webhook_url(browser) == first
    assert (await browser.status())["username"] == ACME_SALES

    # A disconnect ends the URL: the next connect gets a new one.
    assert (await browser.disconnect()).status_code == 204
    assert (await browser.connect(username=ACME_ADMIN)).status_code == 200
    assert await webhook_url(browser) != first


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("ip_restricted", 403, "salesforce_login_restricted"),
        ("invalid_client_id", 502, "salesforce_client_rejected"),
    ],
)
async def test_configuration_refusals_at_connect_say_what_to_fix(
    browser: Browser, sf_emulator: Any, fault: str, status: int, code: str
) -> None:
    await control(
        sf_emulator,
        "POST",
        "/token-faults",
        {"fault": fault, "grant_type": "authorization_code", "count": 1},
    )

    response = await browser.connect(username=ACME_ADMIN)

    assert response.status_code == status, response.text
    assert f"Error code: {code}" in response.text
    assert (await browser.status())["status"] == "disconnected"
