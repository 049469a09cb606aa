"""The duty conversations end to end: /education, /selfcheck, /workday, and their /status and /team lines."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.db.models import CalendarOverride, Staff
from bot.db.models_duties import EducationRecord, InventoryReport, SelfCheck
from bot.db.models_leak import LeakCase
from bot.handlers.duties.selfcheck import load_checklist
from bot.texts import MESSAGES
from tests.conftest import TZ
from tests.fakes.local import LocalBot


async def staff_ids(app: BaomiApp) -> dict[str, int]:
    async with app.db.sessions() as s:
        return {row[0]: row[1] for row in (await s.execute(select(Staff.employee_id, Staff.id))).all()}


async def test_head_records_education(bot: LocalBot) -> None:
    head = await bot.bind("E201")  # 考试院: 赵磊 核心, 黄丽 核心, 周杰 重要; 吴敏 一般 is not listed
    reply = await head.send("/education")
    assert head.labels()[:3] == ["✓ 赵磊", "✓ 黄丽", "✓ 周杰"] and len(head.labels()) == 5
    await head.press("✓ 周杰")  # untick one
    assert head.labels()[2] == "周杰" and reply["text"]
    await head.press(head.t("education/btn_next"))
    await head.press(head.t("education/btn_today"))
    await head.press(head.t("education/form_talk"))
    assert "赵磊、黄丽" in head.last["text"]
    done = await head.press(head.t("education/btn_save"))
    assert done["text"] == head.t("education/saved", count=2, day=date(2026, 3, 2))
    ids = await staff_ids(bot.app)
    async with bot.app.db.sessions() as s:
        records = (
            await s.execute(select(EducationRecord.staff_id, EducationRecord.form, EducationRecord.held_on))
        ).all()
    assert sorted(records) == sorted([(ids["E201"], "talk", date(2026, 3, 2)), (ids["E202"], "talk", date(2026, 3, 2))])
    team = (await head.send("/team"))["text"]
    assert "保密教育：2/3（67%）" in team and "本半年未受保密教育（1）：周杰*（/education 记录）" in team

    staff = await bot.bind("E202")
    status = (await staff.send("/status"))["text"]
    assert "最近一次：2026年3月2日（谈话）" in status and "本半年（2026年上半年）已完成" in status


async def test_typed_education_date_is_checked(bot: LocalBot) -> None:
    head = await bot.bind("E201")
    await head.send("/education")
    await head.press(head.t("education/btn_next"))
    assert (await head.send("不记得了"))["text"] == head.t("education/bad_date")
    assert (await head.send("明天"))["text"] == head.t("education/date_out_of_range")  # a day, but in the future
    assert (await head.send("2026-03-09"))["text"] == head.t("education/date_out_of_range")
    assert (await head.send("2月27日"))["text"] == head.t("education/ask_form")


async def test_staff_cannot_record_education(bot: LocalBot) -> None:
    staff = await bot.bind("E202")
    assert (await staff.send("/education"))["text"] == staff.t("core/no_right")


async def test_self_check_with_a_no_and_a_guarded_note(bot: LocalBot, clock: SettableClock) -> None:
    items = load_checklist()
    person = await bot.bind("E102")
    await person.send("/selfcheck")
    assert person.last["text"] == person.t("selfcheck/item", item=items[0], number=1, total=len(items))
    await person.press(person.t("selfcheck/answer_no"))
    assert person.last["text"] == person.t("selfcheck/ask_note", item=items[0], limit=100)
    assert (await person.send("放在〔2026〕3号文件柜"))["text"] == person.t("guard/refused", category="doc_number")
    await person.send("已移回保密柜")
    for _ in items[1:]:
        await person.press(person.t("selfcheck/answer_yes"))
    assert "已移回保密柜" in person.last["text"]
    done = await person.press(person.t("selfcheck/btn_submit"))
    assert done["text"] == person.t("selfcheck/submitted", year=2026, no_count=1)
    async with bot.app.db.sessions() as s:
        check = await s.scalar(select(SelfCheck))
    assert check is not None and check.no_count == 1 and check.answers["c1"] == {"answer": "no", "note": "已移回保密柜"}
    assert "〔2026〕" not in str(check.answers)
    assert (await person.send("/selfcheck"))["text"] == person.t("selfcheck/already", year=2026)
    head = await bot.bind("E101")
    assert "自查自评：10月开始" in (await head.send("/team"))["text"]  # nobody owes it before October
    clock.set(datetime(2026, 10, 12, 10, 0, tzinfo=TZ))  # the self-inspection month: classified staff owe it
    team = (await head.send("/team"))["text"]
    assert "自查自评：1/2（50%）" in team and "未完成自查自评（1）：刘洋" in team


async def test_unclassified_person_needs_no_self_check(bot: LocalBot) -> None:
    person = await bot.bind("E103")
    assert (await person.send("/selfcheck"))["text"] == person.t("selfcheck/not_needed")


async def test_officer_overrides_a_day_and_sees_the_fallback(bot: LocalBot) -> None:
    officer = await bot.bind("E002")
    status = (await officer.send("/status"))["text"]
    assert officer.t("workday/status", uncovered=[2027]) in status  # 2026 is covered, 2027 not yet
    reply = await officer.send("/workday 2027-02-08 休息 春节")
    assert reply["text"] == officer.t("workday/set", day=date(2027, 2, 8), working=False, reason="春节")
    assert (await officer.send("/workday 2027-02-08 也许"))["text"] == officer.t("workday/usage", limit=50)
    # The same with buttons and the date as one would say it.
    await officer.send("/workday")
    await officer.press(officer.t("workday/btn_day"))
    await officer.send("2027年2月9日")
    await officer.press(officer.t("workday/btn_kind", working=False))
    done = await officer.press(officer.t("workday/btn_skip"))
    assert done["text"] == officer.t("workday/set", day=date(2027, 2, 9), working=False, reason="")
    async with bot.app.db.sessions() as s:
        override = await s.get(CalendarOverride, date(2027, 2, 8))
    assert override is not None and override.is_working is False and override.reason == "春节"
    staff = await bot.bind("E003")
    assert (await staff.send("/workday"))["text"] == staff.t("core/no_right")


async def test_inventory_confirmed_with_counts(bot: LocalBot) -> None:
    head = await bot.bind("E201")
    await head.send("/inventory")
    assert (await head.send("十二"))["text"] == head.t("inventory/bad_number", limit=100_000)
    await head.send("12")
    done = await head.press(head.t("inventory/btn_yes"))
    assert "清查件数：12" in done["text"] and "立案" not in done["text"]
    assert (await head.press(head.t("inventory/btn_submit")))["text"] == head.t("inventory/submitted")
    async with bot.app.db.sessions() as s:
        report = await s.scalar(select(InventoryReport))
        cases = (await s.scalars(select(LeakCase))).all()
    assert report is not None and (report.period, report.checked, report.matches, report.missing) == (
        "2026",
        12,
        True,
        0,
    )
    assert cases == []
    assert "载体清查 2026：已确认" in (await head.send("/team"))["text"]
    assert (await head.send("/inventory"))["text"].startswith("考试院本期（2026）涉密载体清查已于")


async def test_missing_carrier_opens_a_case_and_alerts_officers(bot: LocalBot) -> None:
    officer = await bot.bind("E002")
    head = await bot.bind("E101")
    await head.send("/inventory")
    await head.send("5")
    await head.press(head.t("inventory/btn_no"))
    await head.send("1")
    done = await head.press(head.t("inventory/btn_submit"))
    async with bot.app.db.sessions() as s:
        case = await s.scalar(select(LeakCase))
        report = await s.scalar(select(InventoryReport))
    assert case is not None and case.kind == "lost" and case.carrier_count == 1 and case.level == "unknown"
    assert report is not None and report.case_number == case.number and not report.matches
    assert done["text"] == head.t("inventory/submitted_missing", case_number=case.number, missing=1)
    assert case.number in officer.last["text"]
    assert case.carrier_deadline is not None  # a leak only once its days run out (泄密案件查处办法 第五条)


async def test_a_count_mismatch_with_nothing_missing_is_a_discrepancy_not_a_case(bot: LocalBot) -> None:
    """Issue 15 point 4: before, this opened a 泄密事件 "立案" on day 0."""
    officer = await bot.bind("E002")
    head = await bot.bind("E101")
    await head.send("/inventory")
    await head.send("5")
    await head.press(head.t("inventory/btn_no"))
    await head.send("0")
    done = await head.press(head.t("inventory/btn_submit"))
    async with bot.app.db.sessions() as s:
        assert await s.scalar(select(LeakCase)) is None
        report = await s.scalar(select(InventoryReport))
    assert report is not None and not report.matches and report.case_number is None
    assert done["text"] == head.t("inventory/submitted_discrepancy")
    assert officer.last["text"].startswith("【载体清查差异】基础教育科")


def test_no_text_says_a_case_was_filed() -> None:
    """立案 is the authorities' act: the bot opens an internal 事件 record and never says 立案."""
    texts = [path.read_text(encoding="utf-8") for path in MESSAGES.rglob("*.j2")]
    assert texts and not [t for t in texts if "立案" in t]
