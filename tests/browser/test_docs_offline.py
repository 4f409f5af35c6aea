"""/docs and /redoc render the operations in Chromium with every non-local request blocked."""

from __future__ import annotations

from tests.browser.conftest import LiveService, Page

LOOKUP = "Find the Salesforce Contact (or Lead) with this email or phone"


async def test_swagger_ui_shows_the_operations_offline(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await page.goto(f"{live_service.url}/docs")
    await page.locator(".opblock").first.wait_for()
    assert await page.locator(".opblock").count() >= 10
    assert await page.get_by_text(LOOKUP).first.is_visible()
    assert await page.get_by_role("button", name="Authorize").first.is_visible()
    assert browser_page.external == []


async def test_redoc_shows_the_operations_offline(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await page.goto(f"{live_service.url}/redoc")
    await page.get_by_role("heading", name=LOOKUP).wait_for()
    assert browser_page.external == []
