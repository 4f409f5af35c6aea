"""The pages a person sees during the OAuth flow, rendered by Chromium: the emulator's login
page, then the service's confirmation or error page."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import (
    ACME_ADMIN,
    INITECH_ADMIN,
    PASSWORD,
    LiveService,
    Page,
    start_connect,
)

pytestmark = __import__("pytest").mark.usefixtures("clean_database")


async def log_in(
    live: LiveService, page: Any, authorize_url: str, username: str, button: str
) -> None:
    """The emulator's login page, then back on the service's callback page."""
    await page.goto(authorize_url)
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name=button).click()
    callback = f"{live.url}/v1/salesforce/oauth/callback?"
    await page.wait_for_url(lambda url: url.startswith(callback))
    await page.wait_for_load_state()


async def test_connect_allow_shows_the_org_and_user(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await log_in(live_service, page, await start_connect(live_service, "ws-1"), ACME_ADMIN, "Allow")

    assert page.url.startswith(f"{live_service.url}/v1/salesforce/oauth/callback?")
    heading = page.get_by_role("heading", level=1)
    assert await heading.inner_text() == "Salesforce connected"
    details = await page.locator("dl").inner_text()
    assert "Acme Corporation" in details
    assert ACME_ADMIN in details
    assert await page.title() == "Salesforce connected · respond.io"


async def test_deny_shows_the_access_denied_page(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await log_in(live_service, page, await start_connect(live_service, "ws-1"), ACME_ADMIN, "Deny")

    assert page.url.startswith(f"{live_service.url}/v1/salesforce/oauth/callback?")
    text = await page.locator("main").inner_text()
    assert "salesforce_access_denied" in text
    assert "Nothing was changed in respond.io." in text


async def test_forged_state_shows_the_invalid_state_page(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    response = await page.goto(
        f"{live_service.url}/v1/salesforce/oauth/callback?code=abc&state=forged"
    )
    assert response is not None and response.status == 400
    assert "oauth_state_invalid" in await page.locator(".code").inner_text()
    assert await page.get_by_role("heading", level=1).is_visible()


async def test_org_without_api_access_gets_a_page_that_says_so(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await log_in(
        live_service, page, await start_connect(live_service, "ws-1"), INITECH_ADMIN, "Allow"
    )

    text = await page.locator("main").inner_text()
    assert "salesforce_api_disabled" in text
    assert "Nothing was changed in respond.io." in text
