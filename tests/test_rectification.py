"""Issue 15 point 5: a 否 in a self-check is an admission that needs follow-up — a 整改 item of the person's head
with a due date, shown in /team and /dashboard, closed in /rectify after a confirmation — and the unit's own
October self-assessment (第七条 3.; 保密工作常态化工作制度 第十五条)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from bot.clock import SettableClock
from bot.db.models import AuditLog
from bot.db.models_duties import Rectification
from bot.handlers.duties.selfcheck import UNIT_CHECKLIST, load_checklist
from tests.conftest import TZ
from tests.fakes.local import Chat, LocalBot

OCTOBER = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)


async def answer_all(chat: Chat, command: str, count: int, note: str) -> None:
    """Answers the first item 否 with `note` and the others 是, then submits."""
    await chat.send(command)
    await chat.press(chat.t("selfcheck/answer_no"))
    await chat.send(note)
    for _ in range(count - 1):
        await chat.press(chat.t("selfcheck/answer_yes"))
    await chat.press(chat.t("selfcheck/btn_submit"))


async def rows(bot: LocalBot) -> list[Rectification]:
    async with bot.app.db.sessions() as s:
        return list((await s.scalars(select(Rectification).order_by(Rectification.id))).all())


async def test_a_no_becomes_a_rectification_item_of_the_head_tracked_to_closure(
    bot: LocalBot, clock: SettableClock
) -> None:
    clock.set(OCTOBER)
    officer = await bot.bind("E002")
    head = await bot.bind("E101")
    person = await bot.bind("E102")
    await answer_all(person, "/selfcheck", len(load_checklist()), "文件柜未上锁，已整改")
    [item] = await rows(bot)
    assert (item.item, item.note, item.owner_id) == ("c1", "文件柜未上锁，已整改", await bot.staff_id("E101"))
    assert item.due_on == date(2026, 11, 11) and item.closed_at is None  # 30 days (policy rectification_days)
    assert head.last["text"].startswith("【整改事项】陈静（基础教育科）") and "/rectify" in head.last["text"]
    assert officer.last["text"].startswith("【整改事项】陈静（基础教育科）")
    assert "整改事项：1 项未销号" in (await head.send("/team"))["text"]
    assert "· 整改 1" in "\n".join(m["text"] for m in [await officer.send("/dashboard")])

    listing = await head.send("/rectify")
    assert "文件柜未上锁，已整改" in listing["text"] and "2026年11月11日" in listing["text"]
    await head.press(head.t("rectify/btn_close", number=1))
    assert head.last["text"] == head.t("rectify/confirm")
    await head.press(head.t("rectify/btn_confirm"))
    assert head.bot_messages[-2]["text"] == head.t("rectify/closed")
    [item] = await rows(bot)
    assert item.closed_at is not None and item.closed_by == await bot.staff_id("E101")
    async with bot.app.db.sessions() as s:
        assert await s.scalar(select(AuditLog).where(AuditLog.action == "rectification.close")) is not None
    assert "整改事项：0 项未销号" in (await head.send("/team"))["text"]


async def test_another_departments_head_cannot_see_or_close_it(bot: LocalBot, clock: SettableClock) -> None:
    clock.set(OCTOBER)
    person = await bot.bind("E102")
    await answer_all(person, "/selfcheck", len(load_checklist()), "未按规定登记")
    other_head = await bot.bind("E201")
    assert (await other_head.send("/rectify"))["text"] == other_head.t("rectify/none")


async def test_the_units_october_self_assessment_opens_office_items(bot: LocalBot, clock: SettableClock) -> None:
    clock.set(OCTOBER)
    officer = await bot.bind("E002")
    assert "未完成，请用 /unitcheck 填写" in (await officer.send("/status"))["text"]
    await answer_all(officer, "/unitcheck", len(load_checklist(UNIT_CHECKLIST)), "领导小组成员调整后未及时更新")
    assert officer.last["text"] == officer.t("selfcheck/unit_submitted", year=2026, no_count=1, due=date(2026, 11, 11))
    [item] = await rows(bot)
    assert (item.item, item.owner_id, item.department_id, item.staff_id) == ("u1", None, None, None)
    assert (await officer.send("/unitcheck"))["text"] == officer.t("selfcheck/unit_already", year=2026)
    status = (await officer.send("/status"))["text"]
    assert "2026 年度：已完成" in status and "未销号整改事项 1 项" in status
    staff = await bot.bind("E102")
    assert (await staff.send("/unitcheck"))["text"] == staff.t("core/no_right")
