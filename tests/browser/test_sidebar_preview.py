"""The development sidebar preview in Chromium: lookup, edit in place, revert, history, and
the messages for no match, not connected, reauthorization required and no API access."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from app.models import DEFAULT_VISIBLE_FIELDS
from tests.browser.conftest import (
    ACME_ADMIN,
    GLOBEX_ADMIN,
    LiveService,
    Page,
    connect_without_browser,
)

pytestmark = pytest.mark.usefixtures("clean_database")
ACME = "00D5g000003GIV7EAO"
GLOBEX = "00D8c000003VlcBEAS"
ANA = "ana.souza@example.com"


async def open_preview(live: LiveService, page: Any, workspace: str) -> None:
    await page.goto(f"{live.url}/dev/sidebar?workspace={workspace}&role=owner")
    # The page mints its development token, then shows the connection. (No wait_for_function:
    # the page's Content-Security-Policy forbids the eval it uses.)
    await expect(page.locator("#token")).to_have_value(re.compile(r"^ey[\w-]+\.[\w-]+\.[\w-]+$"))
    await page.locator("#connection").filter(has_not_text="…").wait_for()


async def look_up(page: Any, email: str) -> Any:
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_role("button", name="Look up").click()
    result = page.locator("#result")
    await result.locator(".contact-name, .message").first.wait_for()
    return result


async def api_lookup(live: LiveService, workspace: str, email: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.get(
            f"/v1/workspaces/{workspace}/salesforce/contacts/lookup",
            params={"email": email},
            headers=live.auth(workspace, "agent"),
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def field_row(result: Any, name: str) -> Any:
    return result.locator(f'.field[data-field="{name}"]')


async def test_lookup_edit_revert_and_history(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await connect_without_browser(live_service, "ws-1", ACME_ADMIN)
    await open_preview(live_service, page, "ws-1")
    assert "Acme Corporation" in await page.locator("#connection").inner_text()

    # Editing is off by default: fields show no pencil.
    result = await look_up(page, ANA)
    assert await result.locator(".contact-name").inner_text() == "Ana Souza"
    assert await result.get_by_role("button", name="Edit Title").count() == 0

    # The toolbar turns editing on through PUT .../settings; the lookup is shown again.
    await page.get_by_label("Editing enabled").check()
    await page.get_by_role("status").filter(has_text="Editing enabled.").wait_for()
    await result.get_by_role("button", name="Edit Title").wait_for()

    contact = (await api_lookup(live_service, "ws-1", ANA))["contact"]
    names = [await row.get_attribute("data-field") for row in await result.locator(".field").all()]
    assert names == DEFAULT_VISIBLE_FIELDS
    labels = await result.locator(".field dt").all_inner_texts()
    expected = [f["label"] for f in contact["fields"]]
    assert [label.lower() for label in labels] == [label.lower() for label in expected]
    link = result.get_by_role("link", name="View in Salesforce")
    assert await link.get_attribute("href") == contact["url"]
    assert "null" not in await result.inner_text()
    # Pencils exactly on the editable fields (not Email or Phone), no revert icon yet.
    for item in contact["fields"]:
        pencil = result.get_by_role("button", name=f"Edit {item['label']}", exact=True)
        assert await pencil.count() == (1 if item["editable"] else 0), item["name"]
    assert await result.locator("[aria-label^='Revert']").count() == 0
    old_title = next(f["value"] for f in contact["fields"] if f["name"] == "Title")

    # Edit in place.
    await result.get_by_role("button", name="Edit Title").click()
    editor = field_row(result, "Title").get_by_role("textbox")
    await editor.fill("Chief Tinkerer")
    await field_row(result, "Title").get_by_role("button", name="Save").click()
    await field_row(result, "Title").locator(".value", has_text="Chief Tinkerer").wait_for()
    await result.get_by_role("button", name="Revert Title").wait_for()
    stored = (await api_lookup(live_service, "ws-1", ANA))["contact"]
    assert next(f["value"] for f in stored["fields"] if f["name"] == "Title") == "Chief Tinkerer"

    # History shows the edit.
    await result.get_by_text("Edit history").click()
    entry = result.locator("#history-list li").first
    await entry.filter(has_text="Chief Tinkerer").wait_for()
    assert f"{old_title} → Chief Tinkerer" in await entry.inner_text()

    # Revert: the old value is back, the icon gone, the history entry marked reverted.
    await result.get_by_role("button", name="Revert Title").click()
    await field_row(result, "Title").locator(".value", has_text=str(old_title)).wait_for()
    assert await result.get_by_role("button", name="Revert Title").count() == 0
    await result.get_by_text("Edit history").click()
    await result.locator("#history-list li.reverted").first.wait_for()
    assert "reverted by" in await result.locator("#history-list li").first.inner_text()
    stored = (await api_lookup(live_service, "ws-1", ANA))["contact"]
    assert next(f["value"] for f in stored["fields"] if f["name"] == "Title") == old_title


async def message_code(result: Any) -> str:
    code: str = await result.locator(".message").get_attribute("data-code")
    return code


async def test_clear_messages_for_each_failure(
    live_service: LiveService, browser_page: Page, sf_emulator: Any
) -> None:
    page = browser_page.page

    await open_preview(live_service, page, "ws-none")
    result = await look_up(page, ANA)
    assert await message_code(result) == "salesforce_not_connected"
    assert "Salesforce is not connected" in await result.inner_text()

    await connect_without_browser(live_service, "ws-1", ACME_ADMIN)
    await open_preview(live_service, page, "ws-1")
    result = await look_up(page, "nobody@example.com")
    assert await message_code(result) == ""  # not an error: no code of the API's
    assert "No Salesforce Contact matches nobody@example.com." in await result.inner_text()

    sf_emulator.set_fault(ACME, "api_disabled")
    result = await look_up(page, "someone.else@example.com")
    assert await message_code(result) == "salesforce_api_disabled"
    assert "No API access in this Salesforce org" in await result.inner_text()

    await connect_without_browser(live_service, "ws-2", GLOBEX_ADMIN)
    sf_emulator.revoke_grants(GLOBEX)
    await open_preview(live_service, page, "ws-2")
    result = await look_up(page, ANA)
    assert await message_code(result) == "salesforce_reauthorization_required"
    assert "Salesforce needs to be reconnected" in await result.inner_text()


async def test_the_whole_customer_and_a_person_account(
    live_service: LiveService, browser_page: Page
) -> None:
    page = browser_page.page
    await connect_without_browser(live_service, "ws-customer", ACME_ADMIN)
    await open_preview(live_service, page, "ws-customer")
    result = await look_up(page, ANA)
    assert await result.locator(".related").count() == 0  # off by default

    # The toolbar turns the Account, Opportunities and Cases on (and Case creation).
    await page.get_by_label("Account, opportunities, cases").check()
    await page.get_by_role("status").filter(has_text="opportunities and cases shown").wait_for()
    account = result.get_by_role("region", name="Account")
    await account.wait_for()
    related = (await api_lookup(live_service, "ws-customer", ANA))["related"]
    link = account.get_by_role("link", name="Souza Trading Sdn Bhd")
    assert await link.get_attribute("href") == related["account"]["url"]
    assert "Retail" in await account.inner_text()

    opportunities = result.get_by_role("region", name="Open opportunities")
    assert "Open opportunities (2)" in await opportunities.inner_text()
    names = await opportunities.locator(".related-item a").all_inner_texts()
    assert names == ["Fleet tracking renewal 2027", "WhatsApp support add-on"]
    assert "48,000" in await opportunities.inner_text()
    assert "Pilot 2025" not in await result.inner_text()  # closed

    cases = result.get_by_role("region", name="Open cases")
    titles = await cases.locator(".related-item a").all_inner_texts()
    assert titles == [
        "00001003 · Delivery of order 4471 is late",
        "00001002 · Invoice shows the wrong SST rate",
    ]
    assert "null" not in await result.inner_text()

    # Open a Case from the sidebar: it shows at once, newest first.
    await cases.get_by_label("Case subject").fill("Wants a callback about the renewal")
    await cases.get_by_label("Case priority").select_option("High")
    await cases.get_by_role("button", name="Open case").click()
    await result.get_by_role("link", name=re.compile("Wants a callback")).wait_for()
    cases = result.get_by_role("region", name="Open cases")
    assert "Open cases (3)" in await cases.inner_text()
    first = await cases.locator(".related-item a").first.inner_text()
    assert first.endswith("Wants a callback about the renewal")

    # A Person Account in the org that has them: marked, and it opens the Account.
    await connect_without_browser(live_service, "ws-person", "admin@bluebird.example")
    await open_preview(live_service, page, "ws-person")
    assert "Bluebird Retail" in await page.locator("#connection").inner_text()
    await page.get_by_label("Account, opportunities, cases").check()
    await page.get_by_role("status").filter(has_text="opportunities and cases shown").wait_for()
    person = await look_up(page, "siti.aminah@example.com")
    await person.get_by_text("Person account").wait_for()
    contact = (await api_lookup(live_service, "ws-person", "siti.aminah@example.com"))["contact"]
    assert contact["person_account"] is True
    view = person.get_by_role("link", name="View in Salesforce")
    assert "/lightning/r/Account/" in str(await view.get_attribute("href"))
    await (
        person.get_by_role("region", name="Open opportunities")
        .get_by_role("link", name="Home appliance bundle")
        .wait_for()
    )


async def test_a_demo_conversation_becomes_a_task_the_sidebar_lists(
    live_service: LiveService, browser_page: Page
) -> None:
    """`make run`'s demo: the button sets conversation logging up, the respond.io emulator
    closes a conversation and posts its signed event, the worker logs it, and the contact's
    "Logged conversations" lists the Task."""
    from tests.helpers.autocreate import running_worker

    live, page = live_service, browser_page.page
    await connect_without_browser(live, "ws-demo", ACME_ADMIN)
    await open_preview(live, page, "ws-demo")
    result = await look_up(page, ANA)
    async with running_worker(live.settings, reconcile=False):
        await page.get_by_role("button", name="Close a demo conversation").click()
        await expect(page.locator("#toolbar-message")).to_contain_text(
            "Logged as Task", timeout=30_000
        )
    logged = result.locator("#logged-list")
    await expect(logged).to_contain_text("WhatsApp conversation: Resolved")
    link = logged.get_by_role("link", name="WhatsApp conversation: Resolved")
    assert "/lightning/r/Task/00T" in str(await link.get_attribute("href"))
