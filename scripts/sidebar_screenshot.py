"""A screenshot of the development sidebar preview after a lookup and an edit.

Run it while `make run` is up (`make screenshot`). With the Salesforce emulator, it connects
the demo workspace through the emulator's login page if needed, turns editing on, looks up
Ana Souza, edits her Title (so the pencil and the revert icon both show) and opens the
history. Then it leaves the demo as it found it: the Title reverted, the settings put back,
and the workspace disconnected again if it was not connected. Chromium is the OS package
(/usr/bin/chromium or CHROMIUM_PATH).

It writes .data/sidebar-preview.png; the picture in the docs is replaced only when asked:
`make screenshot OUTPUT=docs/sidebar-preview.png`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402

WORKSPACE = "demo-workspace"
EMAIL = "ana.souza@example.com"
NEW_TITLE = "Head of Customer Success"


BASE = f"/v1/workspaces/{WORKSPACE}/salesforce"
DEFAULT_OUTPUT = ROOT / ".data" / "sidebar-preview.png"


async def connected(http: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    answer = await http.get(f"{BASE}/connection", headers=headers)
    answer.raise_for_status()
    return bool(answer.json()["status"] == "connected")


async def ensure_connected(http: httpx.AsyncClient, page: Any, headers: dict[str, str]) -> None:
    if await connected(http, headers):
        return
    started = await http.post(f"{BASE}/connect", json={}, headers=headers)
    started.raise_for_status()
    await page.goto(started.json()["authorize_url"])
    await page.get_by_label("Username").fill("admin@acme.example")
    await page.get_by_label("Password").fill("emulator")
    await page.get_by_role("button", name="Allow").click()
    await page.get_by_role("heading", name="Salesforce connected").wait_for()


async def ensure_editing(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """Editing on, and the Account, open Opportunities and open Cases shown; answers the
    settings as they were."""
    url = f"{BASE}/settings"
    answer = await http.get(url, headers=headers)
    answer.raise_for_status()
    before: dict[str, Any] = answer.json()
    related = {name: {**part, "enabled": True} for name, part in before["related"].items()}
    if not before["editing_enabled"] or related != before["related"]:
        wanted = {**before, "editing_enabled": True, "related": related}
        (await http.put(url, json=wanted, headers=headers)).raise_for_status()
    return before


@dataclass
class Changes:
    """What the screenshot changed in the demo, to be undone."""

    was_connected: bool
    settings: dict[str, Any] | None = None  # as they were, when editing had to be turned on
    edited: str | None = None  # the Contact whose Title was edited


async def restore(http: httpx.AsyncClient, headers: dict[str, str], changes: Changes) -> None:
    """Undo what the screenshot changed, last change first."""
    if changes.edited is not None:
        revert = f"{BASE}/contacts/{changes.edited}/fields/Title/revert"
        answer = await http.post(revert, params={"force": "true"}, headers=headers)
        if answer.status_code != 404:  # nothing_to_revert: the edit never reached Salesforce
            answer.raise_for_status()
    settings = changes.settings
    if settings is not None:
        (await http.put(f"{BASE}/settings", json=settings, headers=headers)).raise_for_status()
    if not changes.was_connected:
        (await http.delete(f"{BASE}/connection", headers=headers)).raise_for_status()


async def main(base_url: str, output: Path) -> None:
    from playwright.async_api import async_playwright

    executable = chromium_path()
    if executable is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium, or CHROMIUM_PATH)")
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
        minted = await http.post(f"/dev/sidebar/token?workspace={WORKSPACE}&role=owner")
        minted.raise_for_status()
        headers = {"Authorization": f"Bearer {minted.json()['token']}"}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, headless=True
            )
            context = await browser.new_context(
                viewport={"width": 800, "height": 1200}, device_scale_factor=1
            )
            page = await context.new_page()
            changes = Changes(was_connected=await connected(http, headers))
            try:
                await ensure_connected(http, page, headers)
                changes.settings = await ensure_editing(http, headers)
                await take(page, base_url, output, changes)
            finally:
                await restore(http, headers, changes)
                await browser.close()


async def take(page: Any, base_url: str, output: Path, changes: Changes) -> None:
    await page.goto(f"{base_url}/dev/sidebar?workspace={WORKSPACE}&role=owner")
    await page.locator("#connection", has_text="Connected").wait_for()
    await page.get_by_label("Email", exact=True).fill(EMAIL)
    await page.get_by_role("button", name="Look up").click()
    result = page.locator("#result")
    title = result.locator('.field[data-field="Title"]')
    await title.wait_for()
    if await result.get_by_role("button", name="Revert Title").count() == 0:
        link = await result.get_by_role("link", name="View in Salesforce").get_attribute("href")
        await result.get_by_role("button", name="Edit Title").click()
        await title.get_by_role("textbox").fill(NEW_TITLE)
        changes.edited = str(link).rstrip("/").split("/")[-2]  # .../r/Contact/<id>/view
        await title.get_by_role("button", name="Save").click()
        await result.get_by_role("button", name="Revert Title").wait_for()
    await result.locator("#related-cases .related-item").first.wait_for()
    await result.get_by_text("Edit history").click()
    await result.locator("#history-list li .change").first.wait_for()
    output.parent.mkdir(parents=True, exist_ok=True)
    await page.locator(".layout").screenshot(path=str(output))


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the PNG (docs/sidebar-preview.png to replace the docs' picture)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = arguments()
    asyncio.run(main(args.base_url, args.output))
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")
