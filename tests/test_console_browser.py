"""The web console in a real headless Chromium (the system's, driven by Playwright): the story of an officer at
the desk, from the sign-in link in the chat on. With BAOMI_SCREENSHOTS=docs/console it refreshes the screenshots
README shows."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright

from bot.clock import SettableClock
from bot.db.session import Database
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import EXAMPLE_ROSTER, import_example_roster
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
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    Image.open(path).quantize(64).save(path, optimize=True)  # a third of the size, for the README


async def test_an_officer_at_the_desk(console: Desk, browser: Browser, shots: Path, tmp_path: Path) -> None:
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN", accept_downloads=True)  # type: ignore[arg-type]
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

    # 人员: a roster with a mistake is refused line by line; corrected, it is imported.
    await page.click("text=人员")
    roster = EXAMPLE_ROSTER.read_text(encoding="utf-8")
    wrong = tmp_path / "roster.csv"
    wrong.write_text(roster + "E401,新同事,保卫科,绝密,staff\n", encoding="utf-8")
    await page.set_input_files("input[type=file]", str(wrong))
    await page.click("text=检查并导入")
    assert "第 14 行" in await page.inner_text("#roster-errors")
    await shoot(page, shots, "people-roster-errors")
    right = tmp_path / "roster-fixed.csv"
    right.write_text(roster + "E401,新同事,保卫科,一般,staff\n", encoding="utf-8")
    await page.set_input_files("input[type=file]", str(right))
    await page.click("text=检查并导入")
    assert "新增 1 人" in await page.inner_text("#roster-imported")
    assert "新同事" in await page.inner_text("#people")
    await shoot(page, shots, "people")

    # A person's standing and history.
    await page.click("#people >> text=王建国")
    assert "承诺书" in await page.inner_text("main")
    await shoot(page, shots, "person")

    # Invitation codes with their QR codes for the unbound, to print (after the browser's confirmation).
    await page.goto(console.url + "/console/people/invites")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("text=生成邀请码")
    assert await page.locator(".card img").count() > 0
    await shoot(page, shots, "invites")

    # 事件: a case reported in the chat, acknowledged at the desk after a confirmation; the reporter is told.
    reporter = await console.chat("E102")
    case = await console.open_case("E102", withheld=True)
    await page.click("text=事件")
    await page.click(f"text={case.number}")
    assert "陈静" not in await page.inner_text("main")  # the name stays withheld
    await page.click("button:has-text('受理')")
    assert "确认受理" in await page.inner_text("#confirm-question")
    await page.click("#confirm")
    assert "已受理" in await page.inner_text("#done")
    await shoot(page, shots, "case")
    await reporter.settle()
    assert case.number in reporter.last["text"]

    # 通知: a notice to 基础教育科 with 已阅 asked; the recipient's 已阅 in the chat shows at the desk.
    await page.click("text=通知")
    await page.fill("textarea[name=text]", "请于本周五前完成保密自查。")
    await page.check("label:has-text('基础教育科') input")
    await page.select_option("select[name=ack_days]", "1")
    await page.fill("input[name=who]", "黄丽")  # and one person of another unit, found by name
    await page.click("#find")
    await page.check("#matches label:has-text('黄丽') input")
    await page.click("button[value=no]")
    assert "将发送给 4 人" in await page.inner_text("#preview")
    assert "黄丽" in await page.inner_text("#named")
    await page.click("#send")
    assert page.url.startswith(console.url + "/console/broadcasts/")
    await reporter.settle()
    notice = reporter.last
    assert "请于本周五前完成保密自查" in notice["text"]
    await reporter.press(reporter.t("broadcast/btn_ack"), notice)
    await page.reload()
    assert await page.inner_text("#acked") == "1"
    assert "✓" in await page.locator("#recipients tr", has_text="陈静").inner_text()
    await shoot(page, shots, "broadcast")

    # 导出: the compliance workbook, downloaded.
    await page.click("text=导出")
    await shoot(page, shots, "exports")
    async with page.expect_download() as waiting:
        await page.click("button[value=compliance]")
    download = await waiting.value
    path = await download.path()
    assert download.suggested_filename == "compliance-2026-03-02.xlsx"
    assert "保卫科" in {
        str(c.value)
        for sheet in load_workbook(io.BytesIO(path.read_bytes())).worksheets
        for row in sheet.iter_rows()
        for c in row
    }

    # 日历与脱密期: the working-day corrections and the declassification periods.
    await page.click("text=日历与脱密期")
    assert page.url == console.url + "/console/calendar"
    await shoot(page, shots, "calendar")

    assert errors == []  # no script or style refused by the Content-Security-Policy
    await context.close()
