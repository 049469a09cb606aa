"""Screens that scale to a bureau: 36 schools and a department of 30 core staff. Pickers show ten at a time in
natural order with ◀ ▶ and find what is typed; /dashboard lists the lowest first and leaves the rest to the export;
/team names at most ten per duty, the rest under 查看名单; no message runs past two phone screens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import SettableClock
from bot.db.session import Database
from bot.domain.levels import Level, Role
from bot.domain.roster import RosterRow
from bot.services.roster import import_roster, read_roster
from tests.conftest import EXAMPLE_ROSTER, TZ
from tests.fakes.local import Chat, LocalBot, local_bot

SCHOOLS = [f"第{n}中学" for n in range(1, 37)]
MAX_LINES = 40


@pytest.fixture
async def bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    rows = read_roster(EXAMPLE_ROSTER)
    staff = {Role.STAFF}
    line = len(rows) + 2
    for n, school in enumerate(SCHOOLS, 1):
        rows.append(RosterRow(line, f"S{n:03}", f"校长{n}", school, Level.GENERAL, frozenset({*staff, Role.HEAD})))
        line += 1
    for n in range(1, 31):  # 第7中学: thirty core staff
        rows.append(RosterRow(line, f"T{n:03}", f"教师{n:02}", "第7中学", Level.CORE, frozenset(staff)))
        line += 1
    async with db.transaction() as s:
        await import_roster(s, rows, clock.now(), TZ)
    async with local_bot(db_url, clock) as found:
        found.app.jobs.sweeps = []
        yield found


def short(chat: Chat) -> None:
    for message in chat.bot_messages:
        assert len(message["text"].splitlines()) <= MAX_LINES, message["text"][:80]


async def test_the_audience_picker_pages_sorts_naturally_and_finds_what_is_typed(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    await officer.send("/broadcast")
    picker = await officer.send("请各校本周内完成保密自查。")
    schools = [label for label in officer.labels(picker) if label.endswith("中学")]
    assert len(schools) <= 10
    all_names = [label for label in officer.labels(picker) if not label.startswith(("◀", "下一页", "✓"))]
    assert "第1中学" in all_names and "第10中学" not in all_names  # 基础教育科… then 第1中学, 第2中学 …
    found = await officer.send("第3")
    assert [label for label in officer.labels(found) if label.endswith("中学")] == [
        "第3中学",
        "第30中学",
        "第31中学",
        "第32中学",
        "第33中学",
        "第34中学",
        "第35中学",
        "第36中学",
    ][:10]
    turned = await officer.send("全部")
    assert officer.t("core/paging", key="next") in officer.labels(turned)
    await officer.press(officer.t("core/paging", key="next"), turned)
    later = [label for label in officer.labels(officer.last_with_buttons) if label.endswith("中学")]
    assert later and all(label not in schools for label in later)
    short(officer)


async def test_education_picks_ten_at_a_time_and_by_name(bot: LocalBot) -> None:
    head = await bot.bind("S007")
    first = await head.send("/education")
    names = [label for label in head.labels(first) if "教师" in label]
    assert len(names) == 10 and names[0] == "✓ 教师01"
    narrowed = await head.send("教师2")
    assert [label.removeprefix("✓ ") for label in head.labels(narrowed) if "教师" in label] == [
        f"教师{n}" for n in range(20, 30)
    ]
    short(head)


async def test_dashboard_and_team_stay_within_two_screens(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    await officer.send("/dashboard")
    text = "\n".join(m["text"] for m in officer.bot_messages[-2:])
    assert officer.t("dashboard/more", count=len(SCHOOLS) + 4 - 8) in text
    head = await bot.bind("S007")
    team = await head.send("/team")
    assert "等 31 人" in team["text"]
    listing = await head.press(head.t("team/btn_list", label=head.t("team/duty", duty="pledge"), count=31))
    assert listing["text"].count("\n") >= 10 and "1. " in listing["text"]
    nxt = await head.press(head.t("core/paging", key="next"), listing)
    assert "11. " in nxt["text"] and nxt["message_id"] == listing["message_id"]
    short(officer)
    short(head)


async def test_invite_offers_a_button_for_each_name_that_matches(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    picked = await officer.send("/invite 教师1")  # 教师1, 教师10 … 教师19
    assert picked["text"] == officer.t("invite/pick", count=10) and len(officer.labels(picked)) == 10
    issued = await officer.press(officer.labels(picked)[0])
    assert issued["text"].startswith("已为 教师10（T010")


async def test_an_officers_team_chooser_pages_and_finds_a_unit(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    chooser = await officer.send("/team")
    nav = {officer.t("core/paging", key="prev"), officer.t("core/paging", key="next")}
    units = [label for label in officer.labels(chooser) if label not in nav and "/" not in label]
    assert 0 < len(units) <= 10 and "第10中学" not in units  # 40 units, ten a page, 第1中学 before 第10中学
    assert officer.t("core/paging", key="next") in officer.labels(chooser)
    page2 = await officer.press(officer.t("core/paging", key="next"), chooser)
    assert page2["message_id"] == chooser["message_id"]
    assert not set(officer.labels(page2)) & set(units)
    found = await officer.send("第7")
    assert [label for label in officer.labels(found) if label.endswith("中学")] == ["第7中学"]
    view = await officer.press("第7中学", found)
    assert "第7中学" in view["text"]
    short(officer)


async def test_the_special_pledge_group_picker_pages_and_finds_a_unit(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    await officer.send("/pledges")
    await officer.press(officer.t("pledge/word", key="special_task"))
    picker = await officer.send("2026年中考考务")
    schools = [label for label in officer.labels(picker) if label.endswith("中学")]
    assert 0 < len(schools) <= 10 and "第1中学" in schools and "第10中学" not in schools
    assert officer.t("pledge/word", key="all") in officer.labels(picker)
    page2 = await officer.press(officer.t("core/paging", key="next"), picker)
    assert page2["message_id"] == picker["message_id"]
    assert not {label for label in officer.labels(page2) if label.endswith("中学")} & set(schools)
    found = await officer.send("第7")
    assert [label for label in officer.labels(found) if label.endswith("中学")] == ["第7中学"]
    confirm = await officer.press("第7中学", found)
    assert "第7中学" in confirm["text"]
    short(officer)
