"""Issue 15 point 3: leak clocks run from discovery, a late report is flagged, the 24-hour report runs only for
state secrets (保密法实施条例（2024）第六十一条), the leadership is told as the rules say, and the advice after a
report fits what happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.clock import SettableClock
from bot.db.models import OutboxMessage, Staff
from bot.db.models_leak import LeakCase
from bot.db.session import Database
from bot.domain.levels import Level, Role
from bot.domain.roster import RosterRow
from bot.handlers.leak import service as leak
from bot.services.roster import import_roster, read_roster
from tests.conftest import EXAMPLE_ROSTER, TZ
from tests.fakes.local import Chat, LocalBot, local_bot

# The leadership beside the example roster: a 分管领导, a member of the 领导小组 and the 第一责任人.
LEADERSHIP = [
    RosterRow(0, "E401", "郑伟", "局领导", Level.IMPORTANT, frozenset({Role.STAFF, Role.LEADER, Role.GROUP})),
    RosterRow(0, "E402", "钱红", "局领导", Level.IMPORTANT, frozenset({Role.STAFF, Role.GROUP})),
    RosterRow(0, "E403", "冯刚", "局领导", Level.CORE, frozenset({Role.STAFF, Role.CHIEF, Role.GROUP})),
]


@pytest.fixture
async def bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    async with db.transaction() as s:
        await import_roster(s, [*read_roster(EXAMPLE_ROSTER), *LEADERSHIP], clock.now(), TZ)
    async with local_bot(db_url, clock) as found:
        found.app.jobs.sweeps = [s for s in found.app.jobs.sweeps if s.name.startswith("leak")]
        yield found


def lb(chat: Chat, key: str) -> str:
    return chat.t("report/label", key=key)


async def report(chat: Chat, when: str, typed: str | None, *, kind: str = "lost", level: str = "secret") -> None:
    await chat.send("/report")
    await chat.press(lb(chat, f"kind.{kind}"))
    if kind != "others":
        await chat.press(lb(chat, "whose.mine"))
    await chat.press(lb(chat, f"when.{when}"))
    if typed is not None:
        await chat.send(typed)
    await chat.send("档案室")
    await chat.press(lb(chat, "carrier.paper"))
    await chat.press("1")
    await chat.press(lb(chat, f"level.{level}"))
    await chat.press(lb(chat, "btn.next"))
    await chat.press(lb(chat, "btn.skip"))
    await chat.press(lb(chat, "name.show"))
    await chat.press(lb(chat, "btn.submit"))


async def only_case(bot: LocalBot) -> leak.CaseInfo:
    async with bot.app.db.sessions() as s:
        case_id = await s.scalar(select(LeakCase.id))
        assert case_id is not None
        case = await leak.get_case(s, case_id)
    assert case is not None
    return case


async def alerted(bot: LocalBot) -> set[str]:
    async with bot.app.db.sessions() as s:
        rows = await s.execute(
            select(Staff.employee_id, OutboxMessage.payload)
            .join(Staff, Staff.id == OutboxMessage.staff_id)
            .where(OutboxMessage.source.like("leak%"))
        )
        return {
            eid for eid, payload in rows.all() if payload["text"].startswith(("【泄密事件报告】", "【泄密事件通报】"))
        }


async def test_clocks_run_from_a_discovery_typed_as_last_friday(bot: LocalBot, clock: SettableClock) -> None:
    clock.set(datetime(2026, 3, 4, 10, tzinfo=TZ))  # a Wednesday
    reporter = await bot.bind("E102")
    await report(reporter, "earlier", "上周五下午3点")
    case = await only_case(bot)
    assert case.report.discovered_at == datetime(2026, 2, 27, 15, tzinfo=TZ)
    assert case.written_report_due == datetime(2026, 2, 28, 15, tzinfo=TZ)
    assert case.conclusion_due == datetime(2026, 5, 27, 15, tzinfo=TZ)
    assert case.reported_late
    assert "已如实记录为迟报" in reporter.last["text"]


async def test_a_time_typed_today_starts_the_clock_and_is_not_late(bot: LocalBot, clock: SettableClock) -> None:
    clock.set(datetime(2026, 3, 4, 10, tzinfo=TZ))
    reporter = await bot.bind("E102")
    await report(reporter, "today", "上午8点")
    case = await only_case(bot)
    assert case.written_report_due == datetime(2026, 3, 5, 8, tzinfo=TZ)
    assert not case.reported_late and "迟报" not in reporter.last["text"]


async def test_a_day_alone_is_taken_at_its_end_and_a_later_time_is_refused(bot: LocalBot, clock: SettableClock) -> None:
    clock.set(datetime(2026, 3, 4, 10, tzinfo=TZ))
    reporter = await bot.bind("E102")
    await reporter.send("/report")
    await reporter.press(lb(reporter, "kind.lost"))
    await reporter.press(lb(reporter, "whose.mine"))
    await reporter.press(lb(reporter, "when.today"))
    await reporter.send("下午3点")  # later than now
    assert reporter.bot_messages[-2]["text"] == reporter.t("report/day_invalid")
    await reporter.send("/cancel")
    await report(reporter, "earlier", "昨天")
    case = await only_case(bot)
    assert case.report.discovered_at == datetime(2026, 3, 4, tzinfo=TZ)
    assert case.written_report_due == datetime(2026, 3, 5, tzinfo=TZ) and not case.reported_late


async def test_no_24_hour_clock_for_work_secrets(bot: LocalBot, clock: SettableClock) -> None:
    reporter = await bot.bind("E102")
    officer = await bot.bind("E001")
    await report(reporter, "now", None, kind="others", level="work")
    case = await only_case(bot)
    assert case.written_report_due is None
    assert "不适用 24 小时书面报告时限" in officer.last["text"]
    clock.advance(hours=30)
    await bot.app.jobs.run_all()
    await bot.settle()
    assert not [m for m in officer.bot_messages if "书面报告，尚未标记报送" in m["text"]]


async def test_state_secrets_alert_the_leadership_and_work_secrets_only_the_leader(bot: LocalBot) -> None:
    reporter = await bot.bind("E102")
    chats = {employee_id: await bot.bind(employee_id) for employee_id in ("E001", "E002", "E401", "E402", "E403")}
    await report(reporter, "now", None, level="secret")
    assert await alerted(bot) == {"E001", "E002", "E401", "E402", "E403"}
    leader = chats["E403"]
    assert "同级保密行政管理部门和上级主管部门" in leader.last["text"] and "陈静" not in leader.last["text"]


async def test_a_work_secret_reaches_the_leader_in_charge_only(bot: LocalBot) -> None:
    reporter = await bot.bind("E102")
    for employee_id in ("E001", "E401", "E402", "E403"):
        await bot.bind(employee_id)
    await report(reporter, "now", None, level="work")
    assert await alerted(bot) == {"E001", "E401"}


async def test_advice_for_classified_material_online_is_to_take_it_down(bot: LocalBot) -> None:
    reporter = await bot.bind("E102")
    await report(reporter, "now", None, kind="online")
    advice = reporter.last["text"]
    assert "撤下" in advice and "断开" in advice and "不要自行销毁" not in advice
