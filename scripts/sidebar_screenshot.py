"""Take docs/sidebar-preview.png: the development sidebar preview after a lookup and an edit.

Run it while `make run` is up (`make screenshot`). With the Salesforce emulator, it connects
the demo workspace through the emulator's login page if needed, turns editing on, looks up
Ana Souza, edits her Title (so the pencil and the revert icon both show) and opens the
history. Chromium is the OS package (/usr/bin/chromium or CHROMIUM_PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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


async def ensure_connected(http: httpx.AsyncClient, page: Any, headers: dict[str, str]) -> None:
    base = f"/v1/workspaces/{WORKSPACE}/salesforce"
    status = (await http.get(f"{base}/connection", headers=headers)).json()["status"]
    if status == "connected":
        return
    started = await http.post(f"{base}/connect", json={}, headers=headers)
    started.raise_for_status()
    await page.goto(started.json()["authorize_url"])
    await page.get_by_label("Username").fill("admin@acme.example")
    await page.get_by_label("Password").fill("emulator")
    await page.get_by_role("button", name="Allow").click()
    await page.get_by_role("heading", name="Salesforce connected").wait_for()


async def ensure_editing(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    url = f"/v1/workspaces/{WORKSPACE}/salesforce/settings"
    document = (await http.get(url, headers=headers)).json()
    if not document["editing_enabled"]:
        document["editing_enabled"] = True
        (await http.put(url, json=document, headers=headers)).raise_for_status()


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
                viewport={"width": 800, "height": 760}, device_scale_factor=1
            )
            page = await context.new_page()
            await ensure_connected(http, page, headers)
            await ensure_editing(http, headers)
            await page.goto(f"{base_url}/dev/sidebar?workspace={WORKSPACE}&role=owner")
            await page.locator("#connection", has_text="Connected").wait_for()
            await page.get_by_label("Email", exact=True).fill(EMAIL)
            await page.get_by_role("button", name="Look up").click()
            result = page.locator("#result")
            title = result.locator('.field[data-field="Title"]')
            await title.wait_for()
            if await result.get_by_role("button", name="Revert Title").count() == 0:
                await result.get_by_role("button", name="Edit Title").click()
                await title.get_by_role("textbox").fill(NEW_TITLE)
                await title.get_by_role("button", name="Save").click()
                await result.get_by_role("button", name="Revert Title").wait_for()
            await result.get_by_text("Edit history").click()
            await result.locator("#history-list li .change").first.wait_for()
            await page.locator(".layout").screenshot(path=str(output))
            await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "sidebar-preview.png")
    args = parser.parse_args()
    asyncio.run(main(args.base_url, args.output))
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")
