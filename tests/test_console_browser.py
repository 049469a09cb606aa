"""The web console in a real headless Chromium (the system's, driven by Playwright): the story of an officer at
the desk, from the sign-in link in the chat on. With BAOMI_SCREENSHOTS=docs/console it refreshes the screenshots
README shows."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from bot.clock import SettableClock
from bot.db.session import Database
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import import_example_roster
from tests.fakes.desk import Desk, desk

CHROMIUM = os.environ.get("BAOMI_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1100, "height": 760}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def console(api: FakeBotApi, db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[Desk]:
    await import_example_roster(db, clock)
    async with desk(api, db_url, clock) as running:
        yield running


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("BAOMI_SCREENSHOTS") or tmp_path)


async def shoot(page: Page, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=False)


async def test_an_officer_at_the_desk(console: Desk, browser: Browser, shots: Path) -> None:
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")  # type: ignore[arg-type]
    page = await context.new_page()
    errors: list[str] = []  # anything the Content-Security-Policy refused, and any of our URLs that failed
    page.on(
        "console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 and "favicon" not in r.url else None)

    # Without a session: how to sign in.
    await page.goto(console.url + "/console/")
    assert page.url.endswith("/console/signin")
    assert "/console" in await page.inner_text("main")

    # The link from the chat signs in and lands on 总览.
    officer = await console.chat("E001")
    await page.goto(await console.link(officer))
    assert page.url == console.url + "/console/"
    assert await page.inner_text("h1") == "各单位完成情况"
    rows = await page.locator("main table").first.locator("tbody tr").all_inner_texts()
    assert len(rows) == 4 and "王建国" in await page.inner_text("header")
    assert await page.locator("svg.chart rect").count() == 16  # four duties for each of four units
    await shoot(page, shots, "overview")

    assert errors == []  # no script or style refused by the Content-Security-Policy
    await context.close()
