"""Issue 15, what was left: the launch grace without configuration (point 6), the corrected pledge texts in force
now with earlier signatures still valid (point 7), inventory discrepancies verified by the office (point 4), 整改
items past their due date reminded once (point 5), and the office told of the unit's October self-assessment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.clock import SettableClock
from bot.config import Policy
from bot.db.migrate import downgrade, upgrade
from bot.db.models import AuditLog, InstallationValue
from bot.db.models_duties import InventoryReport
from bot.db.models_pledge import PledgeRecord
from bot.db.session import Database
from bot.domain.workdays import WorkCalendar
from bot.handlers.compliance.sweeps import upcoming_deadlines
from bot.handlers.duties.selfcheck import UNIT_CHECKLIST, load_checklist
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.rules import Catalog, PledgeKind, PledgeVersion, check_catalog
from bot.services.calendar import work_calendar
from bot.services.launch import FIRST_IMPORT, launch_day
from tests.conftest import BACKENDS, PG_URL, TZ, import_example_roster, reset_postgres, sqlite_url
from tests.fakes.local import Chat, LocalBot, local_bot

IN_POST = "E103"  # on the first roster without a hire date: in post, owes the yearly pledge
GRACE_END = date(2026, 4, 1)  # the first import (2 March 2026) + 30 days


# --- point 6: the launch grace runs from the first roster import -------------------------------------------------
@pytest.fixture
async def fresh(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    """A bureau that imported its roster this morning (2 March 2026) and set no launch date."""
    await import_example_roster(db, clock)
    async with local_bot(db_url, clock, Policy()) as found:
        yield found


async def test_without_configuration_nobody_is_overdue_within_the_grace(fresh: LocalBot, clock: SettableClock) -> None:
    async with fresh.app.db.sessions() as s:
        recorded = await s.scalar(select(InstallationValue.value).where(InstallationValue.key == FIRST_IMPORT))
    assert recorded == "2026-03-02"
    clock.set(datetime(2026, 3, 10, 10, 0, tzinfo=TZ))  # the regulations' deadline (60 days) was 2 March
    person = await fresh.bind(IN_POST)
    head = await fresh.bind("E101")
    welcome = person.bot_messages[0]["text"]
    assert "2026年4月1日" in welcome and "逾期" not in welcome
    status = (await person.send("/status"))["text"]
    assert "2026年4月1日" in status and "逾期" not in status
    before = len(head.bot_messages)
    await fresh.sweep()
    opened = person.t("renewal/open", cycle=2026, items=[("pledge", GRACE_END), ("quiz", GRACE_END)], resign=False)
    assert opened in person.last["text"]  # asked, not told they are overdue
    assert not [m for m in head.bot_messages[before:] if "逾期" in m["text"]]  # no list of the overdue
    assert "逾期" not in (await head.send("/team"))["text"]
    async with fresh.app.db.sessions() as s:
        calendar = await work_calendar(s)
    deadlines = upcoming_deadlines(Policy(), load_catalog().catalog, calendar, date(2026, 3, 10), date(2026, 3, 2))
    assert {(d.what, d.day) for d in deadlines} >= {("pledge", GRACE_END), ("quiz", GRACE_END)}  # /dashboard, digest
    # After the grace, the deadline is the grace's end, and now it is overdue.
    clock.set(datetime(2026, 4, 8, 10, 0, tzinfo=TZ))
    assert "（已逾期）" in (await person.send("/status"))["text"]


async def test_a_launch_date_overrides_the_first_import(db_url: str, db: Database, clock: SettableClock) -> None:
    await import_example_roster(db, clock)
    launched = Policy().with_overrides({"launch_date": "2025-06-01"})
    async with local_bot(db_url, clock, launched) as bot:
        clock.set(datetime(2026, 3, 10, 10, 0, tzinfo=TZ))
        person = await bot.bind(IN_POST)
        status = (await person.send("/status"))["text"]
        assert "2026年3月2日" in status and "（已逾期）" in status


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "m.db")
    request.getfixturevalue("postgres_ready")
    asyncio.run(reset_postgres(PG_URL))
    return PG_URL


async def test_an_installation_older_than_the_record_gets_its_first_staff_rows_day(fresh_url: str) -> None:
    await upgrade(fresh_url)
    await downgrade(fresh_url, "launch_day@-1")
    db = Database(fresh_url)
    try:
        # Imported at 04:00 on 2 March in Beijing: 1 March in UTC.
        at = datetime(2026, 3, 1, 20, 0)
        async with db.sessions() as session, session.begin():
            await session.execute(
                text("INSERT INTO department (id, name, created_at) VALUES (1, '办公室', :at)"), {"at": at}
            )
            await session.execute(
                text(
                    "INSERT INTO staff (id, employee_id, name, department_id, level, is_head, is_officer, is_leader,"
                    " active, locale, created_at, updated_at)"
                    " VALUES (1, 'E900', '甲', 1, 'general', false, false, false, true, 'zh', :at, :at)"
                ),
                {"at": at},
            )
        await upgrade(fresh_url)
        async with db.sessions() as session:
            assert await launch_day(session, Policy()) == date(2026, 3, 2)
        await downgrade(fresh_url, "launch_day@-1")
        async with db.sessions() as session:
            assert await launch_day(session, Policy()) is None
    finally:
        await db.dispose()


# --- point 7: the corrected texts are shown now; signatures of the first version stay valid ----------------------
async def read_and_sign(chat: Chat, name: str) -> None:
    word = "pledge/word"
    await chat.send("/pledge")
    while chat.t(word, key="next") in chat.labels():
        await chat.press(chat.t(word, key="next"))
    await chat.press(chat.t(word, key="agree"))
    await chat.send(name)


async def test_the_corrected_texts_are_signed_now(bot: LocalBot) -> None:
    chat = await bot.bind(IN_POST)
    await read_and_sign(chat, "杨帆")
    async with bot.app.db.sessions() as s:
        [record] = (await s.scalars(select(PledgeRecord))).all()
    assert record.kind == "annual" and record.version == 2
    assert "政务处分" in record.text and "法律责任" in record.text and "本人岗位涉及的保密事项" in record.text
    assert "政纪" not in record.text and "临时工作人员" not in record.text


async def test_a_signature_of_the_first_text_stays_valid_and_keeps_its_text(
    bot: LocalBot, clock: SettableClock
) -> None:
    chat = await bot.bind(IN_POST)
    sid = await bot.staff_id(IN_POST)
    old = "2026年度保密承诺书\n\n本人如违反上述承诺，自愿承担党纪、政纪责任和法律后果。"
    async with bot.app.db.transaction() as s:
        shown = pledges.Shown(PledgeKind.ANNUAL, None, 2026, 1, old)
        await pledges.sign(s, clock.now(), sid, shown, "杨帆", "local")
    clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=TZ))  # the corrected text in force
    async with bot.app.db.sessions() as s:
        found = await pledges.signed_record(s, sid)
    assert found is not None and found[1] == old  # the receipt and the PDF show the text signed
    receipt, _ = found
    assert (await chat.send("/pledge"))["text"] == chat.t("pledge/receipt", receipt=receipt, fresh=False)
    assert "已签署" in (await chat.send("/status"))["text"]


def test_a_retired_text_is_never_shown() -> None:
    catalog = load_catalog().catalog
    for kind in PledgeKind:
        assert catalog.current(kind, date(2026, 12, 7)).number == 2  # the corrected text, from 2026-12-04
        assert not catalog.superseded(kind, 1, date(2027, 6, 1))  # a correction, not a material change
        if kind is not PledgeKind.DEPARTURE:  # the departure procedure still edits its first text
            first, *_ = catalog.of(kind)
            assert first.template is None  # the text with 政纪 is gone
            assert catalog.current(kind, date(2026, 3, 2)).number == 2  # its days are served by the corrected one
    day = date(2026, 1, 1)
    retired = Catalog(
        tuple(
            PledgeVersion(kind, 1, True, f"pledges/{kind}_v1" if kind is not PledgeKind.ANNUAL else None, day)
            for kind in PledgeKind
        )
    )
    with pytest.raises(ValueError, match="newest version"):
        check_catalog(retired)


# --- point 4: an inventory discrepancy is verified by the office -------------------------------------------------
async def dashboard(officer: Chat) -> str:
    """Everything /dashboard says (the chart's caption and the lists)."""
    before = len(officer.bot_messages)
    await officer.send("/dashboard")
    return "\n".join(m["text"] for m in officer.bot_messages[before:])


async def report_discrepancy(head: Chat) -> None:
    await head.send("/inventory")
    await head.send("12")
    await head.press(head.t("inventory/btn_no"))
    await head.send("0")
    await head.press(head.t("inventory/btn_submit"))


async def test_the_office_verifies_a_discrepancy_with_a_reason(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E002")
    head = await bot.bind("E101")
    await report_discrepancy(head)
    assert "待保密办核实" in (await head.send("/team"))["text"]
    assert "载体清查差异：1 项待核实" in await dashboard(officer)

    listing = await officer.send("/discrepancies")
    assert "基础教育科" in listing["text"] and "清查 12 件" in listing["text"]
    await officer.press(officer.t("inventory/btn_resolve", number=1))
    assert "机密★" not in (await officer.send("机密★10年 登记"))["text"]  # refused by the guard, not kept
    assert (await officer.send("登记未更新，已补登"))["text"] == officer.t(
        "inventory/resolve_confirm", reason="登记未更新，已补登"
    )
    await officer.press(officer.t("inventory/btn_resolve_confirm"))
    assert officer.last["text"] == officer.t("inventory/discrepancies_none")
    assert "登记未更新，已补登" in head.last["text"]  # the head who reported it is told
    async with bot.app.db.sessions() as s:
        [report] = (await s.scalars(select(InventoryReport))).all()
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "inventory.resolve"))
    assert report.resolution == "登记未更新，已补登" and report.resolved_by == await bot.staff_id("E002")
    assert audit is not None
    assert "差异已由保密办核实" in (await head.send("/team"))["text"]
    assert "待核实" not in await dashboard(officer)


async def test_an_open_discrepancy_is_reminded_once_past_its_due_date(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E002")
    head = await bot.bind("E101")
    await report_discrepancy(head)

    def reminders() -> list[str]:
        return [m["text"] for m in officer.bot_messages if "【载体清查差异未核实】" in m["text"]]

    await bot.sweep(datetime(2026, 3, 13, 10, 0, tzinfo=TZ))  # 11 days on
    assert reminders() == []
    await bot.sweep(datetime(2026, 3, 17, 10, 0, tzinfo=TZ))  # 15 days on, a Tuesday
    [reminder] = reminders()
    assert "基础教育科" in reminder and "/discrepancies" in reminder
    await bot.sweep(datetime(2026, 3, 18, 10, 0, tzinfo=TZ))
    assert len(reminders()) == 1  # once


# --- point 5: 整改 items past their due date, and the unit's own self-assessment ---------------------------------
async def answer_all(chat: Chat, command: str, count: int, note: str) -> None:
    await chat.send(command)
    await chat.press(chat.t("selfcheck/answer_no"))
    await chat.send(note)
    for _ in range(count - 1):
        await chat.press(chat.t("selfcheck/answer_yes"))
    await chat.press(chat.t("selfcheck/btn_submit"))


async def test_an_overdue_rectification_item_is_reminded_once(bot: LocalBot, clock: SettableClock) -> None:
    clock.set(datetime(2026, 10, 12, 10, 0, tzinfo=TZ))
    officer = await bot.bind("E002")
    head = await bot.bind("E101")
    person = await bot.bind("E102")
    await answer_all(person, "/selfcheck", len(load_checklist()), "文件柜未上锁")
    await bot.sweep(datetime(2026, 11, 11, 10, 0, tzinfo=TZ))  # the due date itself: not yet
    assert "整改逾期" not in head.last["text"]
    await bot.sweep(datetime(2026, 11, 12, 7, 0, tzinfo=TZ))  # overdue, but before working hours
    assert "整改逾期" not in head.last["text"]
    await bot.sweep(datetime(2026, 11, 12, 9, 30, tzinfo=TZ))
    for chat in (head, officer):
        assert "【整改逾期】1 项" in chat.last["text"] and "陈静（基础教育科）" in chat.last["text"]
    assert "整改逾期" not in person.last["text"]
    counts = len(head.bot_messages), len(officer.bot_messages)
    await bot.sweep(datetime(2026, 11, 13, 9, 30, tzinfo=TZ))
    assert (len(head.bot_messages), len(officer.bot_messages)) == counts  # once


async def test_the_office_is_asked_for_the_units_self_assessment(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E002")
    head = await bot.bind("E101")
    async with bot.app.db.sessions() as s:
        calendar: WorkCalendar = await work_calendar(s)
    kickoff = calendar.next_working_day(date(2026, 10, 1))
    await bot.sweep(datetime.combine(kickoff, datetime.min.time(), TZ).replace(hour=9, minute=30))
    ask = officer.t("duties/unitcheck_ask", year=2026, month=10)
    [asked] = [m for m in officer.bot_messages if ask in m["text"]]  # in 今日待办 with the self-check's start
    assert officer.t("duties/unitcheck_btn") in dict(officer.buttons(asked))
    assert not [m for m in head.bot_messages if "单位自查自评" in m["text"]]
    assert "单位自查自评（2026 年度）：未完成" in await dashboard(officer)
    final = calendar.previous_working_day(date(2026, 10, 24))
    follow_up = officer.t("duties/unitcheck_final", year=2026, month=10)
    await bot.sweep(datetime.combine(final, datetime.min.time(), TZ).replace(hour=10))
    await bot.sweep(datetime.combine(final, datetime.min.time(), TZ).replace(hour=11))
    assert len([m for m in officer.bot_messages if follow_up in m["text"]]) == 1  # the follow-up, once
    await answer_all(officer, "/unitcheck", len(load_checklist(UNIT_CHECKLIST)), "制度未及时修订")
    assert "单位自查自评" not in await dashboard(officer)
