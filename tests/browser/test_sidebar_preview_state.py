"""The sidebar preview keeps to what the API says: no answer of another workspace or role
after switching, "Matched on" kept after an edit, and only the API's own error codes; and
`make screenshot` leaves the demo as it found it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import errors
from scripts import sidebar_screenshot
from tests.browser.conftest import ACME_ADMIN, GLOBEX_ADMIN, LiveService, Page
from tests.browser.conftest import connect_without_browser as connect
from tests.browser.test_sidebar_preview import ANA, look_up, open_preview

pytestmark = pytest.mark.usefixtures("clean_database")
SIDEBAR_JS = Path(__file__).parents[2] / "app" / "preview" / "static" / "sidebar.js"


def api_codes() -> set[str]:
    found: set[str] = set()
    kinds: list[type[errors.AppError]] = [errors.AppError]
    while kinds:
        kind = kinds.pop()
        found.add(kind.code)
        kinds.extend(kind.__subclasses__())
    return found


def test_the_page_names_only_codes_the_api_has() -> None:
    script = SIDEBAR_JS.read_text()
    block = script[script.index("const MESSAGES") : script.index("};", script.index("MESSAGES"))]
    named = set(re.findall(r"^\s+(\w+): \[", block, re.MULTILINE))
    named |= set(re.findall(r"code === \"(\w+)\"", script))
    assert len(named) >= 8
    assert named <= api_codes(), named - api_codes()
    # And no code is made up for what is not an error (a lookup without a match).
    assert "no_match" not in script


async def test_a_lookup_without_a_match_shows_no_code(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await connect(live_service, "ws-1", ACME_ADMIN)
    await open_preview(live_service, page, "ws-1")
    result = await look_up(page, "nobody@example.com")
    assert "No Salesforce Contact matches nobody@example.com." in await result.inner_text()
    assert "code:" not in await result.inner_text()


async def test_switching_workspace_or_role_never_shows_the_previous_answer(
    live_service: LiveService, browser_page: Page, sf_emulator: Any
) -> None:
    page = browser_page.page
    await connect(live_service, "ws-1", ACME_ADMIN)
    await connect(live_service, "ws-2", GLOBEX_ADMIN)
    await open_preview(live_service, page, "ws-1")
    result = await look_up(page, ANA)
    assert await result.locator(".contact-name").inner_text() == "Ana Souza"

    # Another role: the answer was the owner's; it goes.
    await page.locator("#role").select_option("agent")
    await page.locator("#result .contact-name").wait_for(state="detached")
    await page.locator("#connection").filter(has_text="Connected").wait_for()

    # A lookup still in flight when the workspace changes is not shown when it lands.
    sf_emulator.latency_ms = 1500
    await page.get_by_label("Email", exact=True).fill("priya.raman@example.com")
    await page.get_by_role("button", name="Look up").click()
    await page.locator("#result .note", has_text="Looking up").wait_for()
    await page.locator("#workspace").fill("ws-2")
    await page.locator("#workspace").dispatch_event("change")
    await page.locator("#connection", has_text="Globex").wait_for(timeout=10_000)
    sf_emulator.latency_ms = 0
    await page.wait_for_timeout(2500)  # the old lookup's answer has arrived by now
    assert await page.locator("#result .contact-name").count() == 0
    assert "Priya" not in await page.locator("#result").inner_text()
    assert await page.get_by_role("button", name="Look up").is_enabled()


async def test_matched_on_is_kept_after_an_edit(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await connect(live_service, "ws-1", ACME_ADMIN)
    await open_preview(live_service, page, "ws-1")
    await page.get_by_label("Editing enabled").check()
    await page.get_by_role("status").filter(has_text="Editing enabled.").wait_for()
    result = await look_up(page, ANA)
    await result.get_by_role("button", name="Edit Title").wait_for()
    assert "Matched on email" in await result.locator(".note").inner_text()

    await result.get_by_role("button", name="Edit Title").click()
    title = result.locator('.field[data-field="Title"]')
    await title.get_by_role("textbox").fill("Chief Tinkerer")
    await title.get_by_role("button", name="Save").click()
    await title.locator(".value", has_text="Chief Tinkerer").wait_for()
    assert "Matched on email" in await result.locator(".note").inner_text()


async def demo_state(live: LiveService) -> dict[str, Any]:
    base = f"/v1/workspaces/{sidebar_screenshot.WORKSPACE}/salesforce"
    headers = live.auth(sidebar_screenshot.WORKSPACE, "owner")
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as http:
        connection = (await http.get(f"{base}/connection", headers=headers)).json()
        settings = (await http.get(f"{base}/settings", headers=headers)).json()
        found = await http.get(
            f"{base}/contacts/lookup", params={"email": sidebar_screenshot.EMAIL}, headers=headers
        )
    contact = found.json().get("contact") if found.status_code == 200 else None
    fields = {f["name"]: f["value"] for f in contact["fields"]} if contact else None
    return {"status": connection["status"], "settings": settings, "fields": fields}


@pytest.mark.parametrize("connected_before", [True, False])
async def test_the_screenshot_leaves_the_demo_as_it_found_it(
    live_service: LiveService, tmp_path: Path, connected_before: bool
) -> None:
    if connected_before:
        await connect(live_service, sidebar_screenshot.WORKSPACE, ACME_ADMIN)
    before = await demo_state(live_service)
    output = tmp_path / "preview.png"

    await sidebar_screenshot.main(live_service.url, output)

    assert output.stat().st_size > 10_000
    after = await demo_state(live_service)
    assert after == before


def test_the_screenshot_writes_outside_the_tracked_file_unless_asked() -> None:
    tracked = sidebar_screenshot.ROOT / "docs" / "sidebar-preview.png"
    assert sidebar_screenshot.arguments([]).output != tracked
    assert not sidebar_screenshot.arguments([]).output.is_relative_to(
        sidebar_screenshot.ROOT / "docs"
    )
    assert sidebar_screenshot.arguments(["--output", str(tracked)]).output == tracked
