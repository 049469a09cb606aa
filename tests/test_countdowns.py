"""Declassification countdowns: reminders 30, 7 and 1 days before the end and at the end, to officers and
the person; /countdowns listing and changing a period within its legal range; `baomi countdowns`."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.db.models import AuditLog, OutboxMessage, Staff
from bot.domain.levels import Level
from bot.handlers.departures import procedure
from tests.conftest import TZ
from tests.fakes.local import LocalBot


async def depart(app: BaomiApp, employee_id: str, level: Level, approved_on: date, months: int) -> int:
    async with app.db.transaction() as s:
        staff_id = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
        assert staff_id is not None
        # Approved on paper (`baomi depart`): the 脱密期 runs from `approved_on`.
        await procedure.record_outside(s, app.clock.now(), staff_id, level, None, months, approved_on, None)
    return staff_id


async def reminders(app: BaomiApp) -> list[tuple[int | None, str]]:
    async with app.db.sessions() as s:
        rows = (
            await s.execute(
                select(OutboxMessage.staff_id, OutboxMessage.payload)
                .where(OutboxMessage.source == "countdown")
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [(r[0], r[1]["text"].splitlines()[0]) for r in rows]


async def test_reminders_before_and_at_the_end(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E002")
    person = await bot.bind("E102")
    staff_id = await depart(bot.app, "E102", Level.GENERAL, date(2025, 10, 1), 6)  # ends 1 April 2026
    assert await reminders(bot.app) == []
    for day, expected in [
        (date(2026, 2, 27), 0),
        (date(2026, 3, 2), 2),
        (date(2026, 3, 3), 0),
        (date(2026, 3, 25), 2),
        (date(2026, 3, 31), 2),
        (date(2026, 4, 1), 0),
        (date(2026, 4, 2), 2),
        (date(2026, 4, 3), 0),
    ]:
        before = len(await reminders(bot.app))
        clock.set(datetime.combine(day, time(10), TZ))
        # This duty's sweep only: the others (the officer's weekly digest, …) would fill the officer's chat.
        await bot.app.jobs.run_all(sweeps=[s for s in bot.app.jobs.sweeps if s.name == "countdown"])
        assert len(await reminders(bot.app)) - before == expected, day
    await bot.settle()
    sent = await reminders(bot.app)
    assert [text for sid, text in sent if sid == staff_id] == [
        "【脱密期提醒】您的脱密期将于 2026年4月1日 届满（还剩 30 天）。",
        "【脱密期提醒】您的脱密期将于 2026年4月1日 届满（还剩 7 天）。",
        "【脱密期提醒】您的脱密期将于 2026年4月1日 届满（还剩 1 天）。",
        "【脱密期届满】您的脱密期已于 2026年4月1日 届满。对在岗期间知悉的国家秘密仍负有保密义务，直至依法解密。",
    ]
    assert "陈静（E102，基础教育科）" in officer.last["text"] and person.last["text"].startswith("【脱密期届满】您")


async def test_officer_lists_and_changes_a_period(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    await depart(bot.app, "E202", Level.CORE, date(2026, 1, 1), 24)
    await depart(bot.app, "E102", Level.GENERAL, date(2026, 2, 1), 6)
    listing = (await officer.send("/countdowns"))["text"]
    assert listing.index("陈静") < listing.index("黄丽")  # soonest end first
    assert "至 2026年8月1日，还剩 152 天" in listing
    out_of_range = (await officer.send("/countdowns E102 13 岗位调整"))["text"]
    assert out_of_range.startswith("未调整：一般涉密人员的脱密期应为6至12个月")
    changed = (await officer.send("/countdowns e102 9 岗位涉密程度较高"))["text"]  # the id in any case
    assert "9 个月，至 2026年11月1日" in changed
    async with bot.app.db.sessions() as s:
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "declassification.change"))
    assert entry is not None and entry.detail == {"months_before": 6, "months_after": 9, "reason": "岗位涉密程度较高"}
    staff = await bot.bind("E003")
    assert (await staff.send("/countdowns"))["text"] == staff.t("core/no_right")


async def test_a_period_is_changed_with_buttons_and_a_typed_reason(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    await depart(bot.app, "E202", Level.CORE, date(2026, 1, 1), 24)
    listing = await officer.send("/countdowns")
    await officer.press(officer.t("countdowns/btn_change", name="黄丽"), listing)
    lengths = officer.labels()
    assert lengths == [officer.t("countdowns/btn_months", months=m) for m in (24, 27, 30, 33, 36)]  # the legal range
    await officer.press(officer.t("countdowns/btn_months", months=30))
    changed = (await officer.send("核心岗位工作年限较长"))["text"]
    assert "30 个月" in changed
    async with bot.app.db.sessions() as s:
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "declassification.change"))
    assert entry is not None and entry.detail["months_after"] == 30
