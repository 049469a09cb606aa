"""Leak reports end to end: /report, the officers' alerts and /cases, the clocks, relays and who sees what."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import unicodedata
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy import text as sql

from bot.app import BaomiApp
from bot.cli import run_command
from bot.clock import SettableClock
from bot.config import Policy, Settings
from bot.core.flow import FlowContext
from bot.core.sweep import SweepContext
from bot.db.models import AuditLog, Conversation, OutboxMessage, Staff
from bot.db.models_leak import LeakCase, LeakCaseEvent, LeakReporter
from bot.db.session import Database
from bot.handlers.leak import service as leak
from bot.handlers.leak.notices import open_case, summary
from bot.handlers.leak.report import ReporterAction
from bot.handlers.leak.service import CaseInfo
from bot.jobs.runner import SweepRunner
from bot.services import people
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import TZ, import_example_roster
from tests.fakes.harness import bind, running_bot, settle
from tests.fakes.local import Chat, LocalBot, local_bot

ESCALATION = "E301"  # 孙强, named in the policy as the escalation contact
POLICY = Policy(escalation_contacts=(ESCALATION,))


@pytest.fixture
async def app(api: FakeBotApi, db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[BaomiApp]:
    await import_example_roster(db, clock)
    async with running_bot(api, db_url, clock, policy=POLICY) as app:
        # Only this capability's sweeps: other duties' reminders would interleave with the chats read here.
        app.jobs.sweeps = [s for s in app.jobs.sweeps if s.name.startswith("leak_")]
        yield app


@pytest.fixture
async def bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    await import_example_roster(db, clock)
    async with local_bot(db_url, clock, policy=POLICY) as found:
        # Only this capability's sweeps: other duties' reminders would interleave with the chats read here.
        found.app.jobs.sweeps = [s for s in found.app.jobs.sweeps if s.name.startswith("leak_")]
        yield found


def lb(chat: Chat, key: str) -> str:
    return chat.t("report/label", key=key)


async def file_report(
    chat: Chat,
    *,
    kind: str = "lost",
    whose: str = "mine",
    when: str = "now",
    place: str = "档案室",
    carrier: str = "paper",
    level: str = "secret",
    name: str | None = None,
) -> dict[str, Any]:
    """Answer every question with buttons (and a typed place) and submit; returns the bot's last message."""
    await chat.send("/report")
    await chat.press(lb(chat, f"kind.{kind}"))
    if kind != "others":
        await chat.press(lb(chat, f"whose.{whose}"))
    await chat.press(lb(chat, f"when.{when}"))
    await chat.send(place)
    await chat.press(lb(chat, f"carrier.{carrier}"))
    if carrier != "talk":
        await chat.press("1")
    await chat.press(lb(chat, f"level.{level}"))
    await chat.press(lb(chat, "measure.sealed"))
    await chat.press(lb(chat, "btn.next"))
    await chat.press(lb(chat, "btn.skip"))
    await chat.press(lb(chat, f"name.{name or 'show'}"))  # asked of every reporter
    return await chat.press(lb(chat, "btn.submit"))


async def open_from_code(bot: LocalBot, employee_id: str, **fields: Any) -> CaseInfo:
    """A case opened the way another capability opens one (faster than answering every question)."""
    report = {
        "kind": leak.Kind.CARRIER_LOST,
        "whose": leak.Whose.MINE,
        "discovered": leak.Discovered.NOW,
        "discovered_on": bot.app.clock.now().astimezone(TZ).date(),
        "place": "档案室",
        "carrier": leak.Carrier.PAPER,
        "carrier_count": 1,
        "level": leak.Marked.SECRET,
    }
    async with bot.app.db.transaction() as s:
        person = await people.by_employee_id(s, employee_id)
        assert person is not None
        case = await open_case(
            s, bot.app.clock.now(), bot.app.texts, POLICY, person.id, leak.Report(**(report | fields))
        )
    await bot.settle()
    return case


async def case_info(app: BaomiApp, number: str) -> CaseInfo:
    async with app.db.sessions() as s:
        case_id = await s.scalar(select(LeakCase.id).where(LeakCase.number == number))
        assert case_id is not None, number
        info = await leak.get_case(s, case_id)
    assert info is not None
    return info


async def case_events(app: BaomiApp) -> list[LeakCaseEvent]:
    async with app.db.sessions() as s:
        return list((await s.scalars(select(LeakCaseEvent).order_by(LeakCaseEvent.id))).all())


def alert_text(chat: Chat, case: CaseInfo, waited: int) -> str:
    return chat.t("cases/alert", case=case, waited=waited, summary=summary(chat.texts, "zh", case.report, case))


def alerts(chat: Chat, number: str) -> list[dict[str, Any]]:
    return [m for m in chat.bot_messages if m["text"].startswith(f"【泄密事件报告】{number}")]


def mentions(chat: Chat, needle: str) -> list[str]:
    return [m["text"] for m in chat.bot_messages if needle in m["text"]]


async def tick(bot: LocalBot, clock: SettableClock, **delta: float) -> None:
    clock.advance(**delta)
    await bot.app.jobs.run_all()
    await bot.settle()


async def test_full_report_from_start_to_case_number(bot: LocalBot) -> None:
    officers = [await bot.bind("E001"), await bot.bind("E002")]
    reporter = await bot.bind("E102")
    opening = await reporter.send("/report")
    assert opening["text"] == reporter.t("report/ask_kind", opening=True)
    assert reporter.labels() == [lb(reporter, f"kind.{k}") for k in leak.Kind]
    assert (await reporter.press(lb(reporter, "kind.lost")))["text"] == reporter.t("report/ask_whose")
    assert (await reporter.press(lb(reporter, "whose.mine")))["text"] == reporter.t("report/ask_when")
    await reporter.press(lb(reporter, "when.earlier"))
    assert (await reporter.send("明天"))["text"] == reporter.t("report/ask_day", today=date(2026, 3, 2), earlier=True)
    assert (await reporter.send("3月1日下午3点"))["text"] == reporter.t("report/ask_place", limit=50)
    assert (await reporter.send("三楼会议室" * 11))["text"] == reporter.t("report/too_long", limit=50)
    assert (await reporter.send("三楼会议室"))["text"] == reporter.t("report/ask_carrier")
    await reporter.press(lb(reporter, "carrier.paper"))
    assert (await reporter.send("2份"))["text"] == reporter.t("report/ask_level")
    await reporter.press(lb(reporter, "level.secret"))
    ticked = await reporter.press(lb(reporter, "measure.sealed"))
    assert "✅ " + lb(reporter, "measure.sealed") in reporter.labels(ticked)
    await reporter.press(lb(reporter, "measure.leader"))
    await reporter.press(lb(reporter, "btn.next"))
    await reporter.press(lb(reporter, "btn.skip"))
    preview = await reporter.press(lb(reporter, "name.show"))  # one's own loss: the name may be withheld too
    assert "三楼会议室" in preview["text"] and reporter.labels(preview)[0] == lb(reporter, "btn.submit")
    # 修改 asks one question again and comes back to the preview.
    await reporter.press(lb(reporter, "btn.change"))
    await reporter.press(lb(reporter, "field.place"))
    assert "档案室" in (await reporter.send("档案室"))["text"]

    done = await reporter.press(lb(reporter, "btn.submit"))
    case = await case_info(bot.app, "BM-2026-0001")
    assert done["text"] == reporter.t("report/submitted", case=case)
    assert case.status is leak.Status.REPORTED and case.reporter_name == "陈静"
    assert case.report == leak.Report(
        kind=leak.Kind.CARRIER_LOST,
        whose=leak.Whose.MINE,
        discovered=leak.Discovered.EARLIER,
        discovered_on=date(2026, 3, 1),
        discovered_at=datetime(2026, 3, 1, 15, tzinfo=TZ),
        place="档案室",
        carrier=leak.Carrier.PAPER,
        carrier_count=2,
        level=leak.Marked.SECRET,
        measures=(leak.Measure.SEALED, leak.Measure.LEADER),
    )
    # The clocks run from the discovery (保密法实施条例 第六十一条), not from the report the next morning.
    assert case.written_report_due == datetime(2026, 3, 2, 15, tzinfo=TZ)
    assert case.conclusion_due == datetime(2026, 6, 1, 15, tzinfo=TZ)
    assert not case.reported_late
    assert case.carrier_deadline == datetime(2026, 5, 1, tzinfo=TZ)  # 60 days after 1 March, to the day's end
    async with bot.app.db.sessions() as s:
        reporter_id = await s.scalar(select(Staff.id).where(Staff.employee_id == "E102"))
        assert await s.scalar(select(LeakReporter.staff_id)) == reporter_id
        assert await s.get(Conversation, reporter_id) is None
    assert [(e.kind, e.actor_staff_id) for e in await case_events(bot.app)] == [("submitted", reporter_id)]
    for officer in officers:
        (alert,) = alerts(officer, case.number)
        assert alert["text"] == alert_text(officer, case, 0)
        assert officer.labels(alert) == [lb(officer, "btn.ack"), lb(officer, "btn.view")]
    card = await officers[1].press(lb(officers[1], "btn.view"), alerts(officers[1], case.number)[0])
    assert card["text"].startswith(f"【{case.number}】已报告") and "陈静（基础教育科）" in card["text"]

    # Nobody but the reporter and the officers learns anything of the case: not the reporter's head, not a colleague.
    head, colleague = await bot.bind("E101"), await bot.bind("E103")
    for chat in (head, colleague):
        assert (await chat.send("/cases"))["text"] == chat.t("core/no_right")
        assert "/cases" not in (await chat.send("/help"))["text"]
        assert mentions(chat, case.number) == []
    # 回复 on a relayed message answers only the reporter of that case.
    async with bot.app.db.transaction() as s:
        for employee_id, allowed in (("E103", False), ("E101", False), ("E102", True)):
            person = await people.by_employee_id(s, employee_id)
            assert person is not None
            ctx = FlowContext(s, bot.app.clock.now(), person, POLICY, bot.app.texts, "local", bot.app.registry)
            step = await ReporterAction().on_press(ctx, "reply", (str(case.id),))
            assert (step.flow is not None) is allowed
            assert (step.toast == ctx.t("core/no_right")) is not allowed


async def test_attachments_and_marked_texts_never_enter(
    api: FakeBotApi, app: BaomiApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # what `baomi run` logs (it keeps the database drivers at WARNING)
    caplog.set_level(logging.DEBUG, logger="baomi")
    officer = await bind(api, app, "E001", 821)
    reporter = await bind(api, app, "E102", 822)
    await reporter.send("/report")
    await reporter.press(lb(reporter, "kind.lost"))
    await reporter.press(lb(reporter, "whose.mine"))
    await reporter.press(lb(reporter, "when.now"))
    # Material sent mid-conversation is deleted from the chat, refused, and the question asked again.
    sent = [
        await api.send_photo(822, caption="拍到的页面"),
        await api.send_document(822, file_name="名单.pdf"),
        await api.send_forwarded(822, "转发的通知全文"),
        await api.send_voice(822),
        await api.send_location(822),
    ]
    await settle(api, app)
    assert all(api.message(822, m["message_id"]) is None for m in sent)
    refusals = [m for m in reporter.bot_messages if m["text"] == reporter.t("core/attachment_refused")]
    assert len(refusals) == len(sent)
    assert reporter.last["text"] == reporter.t("report/ask_place", limit=50)
    # A marking or a document number is refused wherever text is typed.
    marked, numbered = "机密★10年 档案柜", "教发〔2026〕3号 那份"
    assert (await reporter.send(marked))["text"] == reporter.t("guard/refused", category="marking")
    assert (await reporter.send(numbered))["text"] == reporter.t("guard/refused", category="doc_number")
    await reporter.send("档案室")
    await reporter.press(lb(reporter, "carrier.paper"))
    await reporter.press("1")
    await reporter.press(lb(reporter, "level.top"))
    await reporter.press(lb(reporter, "btn.next"))
    assert (await reporter.send(numbered))["text"] == reporter.t("guard/refused", category="doc_number")
    await reporter.send("已封存柜子")
    await reporter.press(lb(reporter, "name.show"))
    await reporter.press(lb(reporter, "btn.submit"))
    assert alerts(officer, "BM-2026-0001")

    # What the bot keeps and says (the inbox alone holds updates as received, and is never shown or sent).
    stored: list[str] = []
    async with app.db.sessions() as s:
        for model in (LeakCase, LeakCaseEvent, LeakReporter, Conversation, OutboxMessage, AuditLog):
            stored += [str(vars(row)) for row in (await s.scalars(select(model))).all()]
    seen = "\n".join(stored) + "\n".join(m["text"] for m in api.chat(821) + api.chat(822) if m["from"]["is_bot"])
    assert "已封存柜子" in seen and "档案室" in seen  # the checks below look where the texts would be
    for fragment in ("拍到的页面", "名单.pdf", "转发的通知全文", "★10年", "〔2026〕3号"):
        assert fragment not in seen
        assert fragment not in caplog.text
    # The guard logs the category alone: no hash a refused text could be recovered from, and not who typed it.
    guard_lines = [r.getMessage() for r in caplog.records if r.name == "baomi.guard"]
    assert guard_lines == [f"refused a text: {c}" for c in ("marking", "doc_number", "doc_number")]
    for text in (marked, numbered):
        for form in ("NFC", "NFKC"):
            assert hashlib.sha256(unicodedata.normalize(form, text).encode()).hexdigest() not in caplog.text


async def test_alerts_repeat_and_escalate_until_acknowledged(bot: LocalBot, clock: SettableClock) -> None:
    officers = [await bot.bind("E001"), await bot.bind("E002")]
    escalation = await bot.bind(ESCALATION)
    reporter = await bot.bind("E102")
    async with bot.app.db.transaction() as s:  # 马琳 is the 分管领导 here
        await s.execute(update(Staff).where(Staff.employee_id == "E302").values(is_leader=True))
    leader = await bot.bind("E302")
    await open_from_code(bot, "E102", kind=leak.Kind.TALK, carrier=leak.Carrier.TALK, carrier_count=None)
    case = await case_info(bot.app, "BM-2026-0001")
    assert [len(alerts(o, case.number)) for o in officers] == [1, 1] and alerts(escalation, case.number) == []
    card = alerts(officers[0], case.number)[0]
    # The 分管领导 is told at once, for information (第二十七条); the card to accept comes only if nobody does.
    assert leader.last["text"].startswith(f"【泄密事件通报】{case.number}") and not leader.last["buttons"]

    await tick(bot, clock, minutes=14)
    assert [len(alerts(o, case.number)) for o in officers] == [1, 1]
    await tick(bot, clock, minutes=1)
    await tick(bot, clock, seconds=30)  # the same round is not made twice
    # The officers' card is edited in place with the time waited; the escalation contact gets a card of their own.
    for chat in officers:
        [only] = alerts(chat, case.number)
        assert only["text"] == alert_text(chat, case, 15) and only.edited
    assert [m["text"] for m in alerts(escalation, case.number)] == [alert_text(escalation, case, 15)]
    await tick(bot, clock, minutes=15)
    assert [len(alerts(c, case.number)) for c in (*officers, escalation)] == [1, 1, 1]
    assert alerts(officers[0], case.number)[0]["text"] == alert_text(officers[0], case, 30)
    assert alerts(escalation, case.number)[0]["text"] == alert_text(escalation, case, 30)
    assert alerts(leader, case.number) == []
    # After an hour the leadership is told, once.
    await tick(bot, clock, minutes=30)
    assert [m["text"] for m in alerts(leader, case.number)] == [alert_text(leader, case, 60)]
    await tick(bot, clock, minutes=15)
    assert len(alerts(leader, case.number)) == 1 and alerts(leader, case.number)[0]["text"] == alert_text(
        leader, case, 75
    )
    assert alerts(officers[0], case.number)[0]["message_id"] == card["message_id"]

    await officers[0].press(lb(officers[0], "btn.ack"), alerts(officers[0], case.number)[-1])
    case = await case_info(bot.app, case.number)
    assert case.acknowledged_at == clock.now() and case.status is leak.Status.ACCEPTED
    statuses = {loc: reporter.texts.render("report/label", loc, key="status.accepted") for loc in ("zh", "en")}
    assert reporter.last["text"] == reporter.t("report/status_changed", case=case, statuses=statuses, note=None)
    # A second officer's 受理 changes nothing.
    late = await officers[1].press(lb(officers[1], "btn.ack"), alerts(officers[1], case.number)[-1])
    assert late["text"].startswith(officers[1].t("cases/already_acknowledged"))
    said = [len(c.bot_messages) for c in (*officers, escalation, leader)]
    await tick(bot, clock, minutes=15)
    await tick(bot, clock, minutes=45)
    assert [len(c.bot_messages) for c in (*officers, escalation, leader)] == said
    assert [e.kind for e in await case_events(bot.app)] == ["submitted", "acknowledged"]


async def test_written_report_and_missing_carrier_clocks(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E001")
    await open_from_code(bot, "E102", level=leak.Marked.TOP_SECRET)  # 绝密: a leak unless found within 10 days
    case = await case_info(bot.app, "BM-2026-0001")
    assert case.carrier_deadline == datetime(2026, 3, 13, tzinfo=TZ)
    await officer.press(lb(officer, "btn.ack"), alerts(officer, case.number)[0])

    def said(template: str, **context: Any) -> int:
        expected = officer.t(template, case=case, **context)
        return sum(m["text"] == expected for m in officer.bot_messages)

    await tick(bot, clock, hours=11, minutes=59)
    assert said("cases/written_report_reminder", overdue=False) == 0
    await tick(bot, clock, minutes=1)
    assert said("cases/written_report_reminder", overdue=False) == 1
    await tick(bot, clock, hours=8)  # 20 h
    assert said("cases/written_report_reminder", overdue=False) == 2
    # Marked sent: the reminders stop, and the report never goes overdue.
    await officer.press(lb(officer, "btn.view"), alerts(officer, case.number)[0])
    card = await officer.press(lb(officer, "btn.view"), alerts(officer, case.number)[0])
    asked = await officer.press(lb(officer, "btn.sent"))
    assert asked["text"] == officer.t("cases/confirm", case=case, what="sent", open_clocks=[])
    marked = await officer.press(lb(officer, "btn.confirm_sent"))
    assert marked["text"].startswith(officer.t("cases/written_sent"))
    # The buttons keep their places: ✓ where the step was taken.
    assert officer.labels(marked).index(lb(officer, "btn.done_sent")) == officer.labels(card).index(
        lb(officer, "btn.sent")
    )
    await tick(bot, clock, hours=4)  # 24 h
    assert said("cases/written_report_reminder", overdue=True) == 0

    clock.set(datetime(2026, 3, 12, 23, 59, tzinfo=TZ))
    await tick(bot, clock)
    assert (await case_info(bot.app, case.number)).carrier_deemed_at is None
    await tick(bot, clock, minutes=1)
    case = await case_info(bot.app, case.number)
    assert case.carrier_deemed_at == datetime(2026, 3, 13, tzinfo=TZ)
    assert said("cases/carrier_deemed") == 1
    await tick(bot, clock, days=1)
    assert said("cases/carrier_deemed") == 1
    kinds = [e.kind for e in await case_events(bot.app)]
    assert kinds == ["submitted", "acknowledged", "written_report_sent", "carrier_deemed_leaked"]

    # A carrier marked found is not handled as leaked when its days run out.
    fields: dict[str, Any] = {"whose": leak.Whose.FOUND, "carrier": leak.Carrier.STORAGE, "level": leak.Marked.UNKNOWN}
    found = await open_from_code(bot, "E201", **fields)
    assert found.carrier_deadline == datetime(2026, 3, 25, tzinfo=TZ)  # an unknown level gets the shorter clock
    assert officer.last["text"] == alert_text(officer, found, 0)
    await officer.press(lb(officer, "btn.view"), officer.last)
    await officer.press(lb(officer, "btn.found"))
    assert (await officer.press(lb(officer, "btn.confirm_found")))["text"].startswith(officer.t("cases/carrier_found"))
    clock.set(datetime(2026, 3, 30, 10, 0, tzinfo=TZ))
    await tick(bot, clock)
    found = await case_info(bot.app, found.number)
    assert found.carrier_found_at is not None and found.carrier_deemed_at is None


async def test_officer_sets_status_and_the_reporter_is_told(bot: LocalBot) -> None:
    officer = await bot.bind("E002")
    reporter = await bot.bind("E203")
    await open_from_code(bot, "E203", kind=leak.Kind.ONLINE, carrier=leak.Carrier.COMPUTER)
    await open_from_code(bot, "E203", kind=leak.Kind.MISSENT, carrier=leak.Carrier.PHONE)
    listing = await officer.send("/cases")
    assert listing["text"].startswith(officer.t("cases/list", items=[]).splitlines()[0][:4])
    assert [label.split(" · ")[0] for label in officer.labels(listing)] == ["BM-2026-0001", "BM-2026-0002"]
    await officer.press(officer.labels(listing)[1])
    await officer.press(lb(officer, "btn.status"))
    await officer.press(lb(officer, "status.investigating"))
    assert (await officer.send("教发〔2026〕3号"))["text"] == officer.t("guard/refused", category="doc_number")
    await officer.send("已约谈相关人员")
    case = await case_info(bot.app, "BM-2026-0002")
    assert case.status is leak.Status.INVESTIGATING and case.acknowledged_at is not None
    statuses = {loc: reporter.texts.render("report/label", loc, key="status.investigating") for loc in ("zh", "en")}
    assert reporter.last["text"] == reporter.t(
        "report/status_changed", case=case, statuses=statuses, note="已约谈相关人员"
    )
    await officer.press(lb(officer, "btn.status"))
    warned = await officer.press(lb(officer, "status.concluded"))
    # Concluding with the written report still owed says so first.
    open_clocks = [{"what": "written_report", "due": case.written_report_due}]
    assert warned["text"] == officer.t("cases/confirm", case=case, what="conclude", open_clocks=open_clocks)
    await officer.press(lb(officer, "btn.confirm_conclude"))
    await officer.press(lb(officer, "btn.skip"))
    assert (await case_info(bot.app, case.number)).concluded_at is not None
    listing = await officer.send("/cases")
    assert officer.labels(listing) == [f"BM-2026-0001 · {lb(officer, 'status.reported')}", lb(officer, "btn.closed")]
    # Concluded cases do not vanish: they are listed and can be opened.
    closed = await officer.press(lb(officer, "btn.closed"))
    assert officer.labels(closed)[0] == f"BM-2026-0002 · {lb(officer, 'status.concluded')}"
    notes = [(e.kind, e.detail.get("note")) for e in await case_events(bot.app) if e.kind == "status"]
    assert notes == [("status", "已约谈相关人员"), ("status", None)]
    async with bot.app.db.sessions() as s:
        assert (await leak.verify_events(s)).broken_at is None


async def test_withheld_reporter_is_relayed_both_ways_and_revealed_on_request(
    bot: LocalBot, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    officer, other_officer = await bot.bind("E001"), await bot.bind("E002")
    reporter = await bot.bind("E003")
    caplog.set_level(logging.DEBUG, logger="baomi")
    caplog.clear()
    await file_report(reporter, kind="others", place="会议室", carrier="talk", name="hide")
    case = await case_info(bot.app, "BM-2026-0001")
    assert case.report.name_withheld and case.reporter_name is None
    assert "张伟" not in alerts(officer, case.number)[0]["text"]
    assert lb(officer, "reporter.withheld") in alerts(officer, case.number)[0]["text"]

    await officer.press(lb(officer, "btn.view"), alerts(officer, case.number)[0])
    await officer.press(lb(officer, "btn.contact"))
    await officer.send("请问当时是否已经制止？")
    relayed = reporter.last
    assert relayed["text"] == reporter.t("report/office_message", case=case, message="请问当时是否已经制止？")
    assert "王建国" not in relayed["text"]
    await reporter.press(lb(reporter, "btn.reply"), relayed)
    assert (await reporter.send("已当场制止"))["text"] == reporter.t("report/reply_sent", case=case)
    for chat in (officer, other_officer):
        assert chat.last["text"] == chat.t("cases/reporter_message", case=case, message="已当场制止")
    # The officer answers the reply straight from its 回复 button.
    await officer.press(lb(officer, "btn.reply"), officer.last)
    await officer.send("谢谢，已收到")
    assert reporter.last["text"] == reporter.t("report/office_message", case=case, message="谢谢，已收到")

    # No log line ties the reporter to the case: the steps of /report and of the reply are logged without a person
    # (the officers' steps are not).
    async with bot.app.db.sessions() as s:
        ids = {employee_id: staff_id for employee_id, staff_id in await s.execute(select(Staff.employee_id, Staff.id))}
    lines = [r.getMessage() for r in caplog.records]
    assert not [line for line in lines if re.search(rf"staff {ids['E003']}\b", line)]
    assert sum("in an anonymous flow" in line for line in lines) == 13
    assert any("press lkr:reply in an anonymous flow" in line for line in lines)
    assert any(re.search(rf"press lka:\w+ from staff {ids['E001']}\b", line) for line in lines)
    await reporter.send("/status")  # outside the report, the reporter is logged as anyone else
    assert any(re.search(rf"command /status from staff {ids['E003']}\b", r.getMessage()) for r in caplog.records)

    await officer.press(lb(officer, "btn.reveal"))
    revealed = await officer.press(lb(officer, "btn.reveal_yes"))
    assert "张伟（工号 E003，办公室）" in revealed["text"]
    assert mentions(other_officer, "张伟") == []
    async with bot.app.db.sessions() as s:
        officer_id = await s.scalar(select(Staff.id).where(Staff.employee_id == "E001"))
        audit = (await s.scalars(select(AuditLog).where(AuditLog.action == "leak.reveal_reporter"))).all()
    assert [(a.actor_staff_id, a.subject) for a in audit] == [(officer_id, f"leak_case:{case.id}")]
    assert [(e.kind, e.actor_staff_id) for e in await case_events(bot.app)] == [
        ("submitted", None),
        ("relay_to_reporter", officer_id),
        ("relay_from_reporter", None),
        ("relay_to_reporter", officer_id),
        ("reporter_revealed", officer_id),
    ]

    out = tmp_path / "reports.xlsx"
    settings = Settings(database_url=db_url, timezone=TZ)
    assert await run_command(settings, ["export", "reports", "--out", str(out)]) == 0
    book = load_workbook(out)
    cases_sheet, events_sheet = book.worksheets
    rows = list(cases_sheet.iter_rows(values_only=True))
    assert rows[1][0] == case.number and rows[1][11] == lb(officer, "reporter.withheld")
    assert "张伟" not in str(rows) and events_sheet.max_row == 6
    # The Chinese export names each step in Chinese, not by its code.
    steps = [row[2] for row in events_sheet.iter_rows(min_row=2, values_only=True)]
    assert steps[0] == lb(officer, "event.submitted") and not any(str(step).isascii() for step in steps)


async def test_overlapping_clock_runs_tell_the_officers_once(bot: LocalBot, clock: SettableClock) -> None:
    """A tick and `baomi jobs run` (or two instances) running the clocks at once: the second run waits for the
    first one's claim and then leaves the case alone, so the officer hears that the carrier is deemed leaked once."""
    if bot.app.db.is_sqlite:
        pytest.skip("SQLite runs one writing transaction at a time: runs cannot overlap there")
    officer = await bot.bind("E001")
    await open_from_code(bot, "E102", level=leak.Marked.TOP_SECRET)
    case = await case_info(bot.app, "BM-2026-0001")
    clock.set(datetime(2026, 3, 13, 0, 1, tzinfo=TZ))  # past the carrier's deadline
    other = Database(bot.app.db.url)
    try:
        runner = bot.app.jobs
        clocks = [sweep for sweep in runner.sweeps if sweep.name == "leak_clocks"]
        second = SweepRunner(other, clock, POLICY, bot.texts, TZ, clocks, lambda: None)
        calendar = await runner.calendar()
        async with bot.app.db.transaction() as session:
            # The first run, not yet committed when the second one starts.
            ctx = SweepContext(session, clock.now(), POLICY, bot.texts, TZ, calendar)
            assert await clocks[0].run(ctx) > 0
            overlapping = asyncio.create_task(second.run_all())
            await waiting_for_a_lock(other)
        assert (await overlapping)["leak_clocks"] == 0
    finally:
        await other.dispose()
    await bot.settle()
    assert sum(m["text"] == officer.t("cases/carrier_deemed", case=case) for m in officer.bot_messages) == 1
    kinds = [e.kind for e in await case_events(bot.app)]
    assert kinds.count("carrier_deemed_leaked") == 1


async def waiting_for_a_lock(db: Database) -> None:
    """Return once a transaction waits for a lock that another one holds (PostgreSQL)."""
    for _ in range(1000):
        async with db.sessions() as session:
            if await session.scalar(sql("SELECT count(*) FROM pg_locks WHERE NOT granted")):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("nothing waits for a lock")


async def test_ones_own_loss_may_be_reported_without_a_name_and_the_reporter_sees_its_status(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    reporter = await bot.bind("E003")
    await file_report(reporter, kind="lost", whose="mine", name="hide")
    case = await case_info(bot.app, "BM-2026-0001")
    assert case.report.name_withheld and case.reporter_name is None
    assert "张伟" not in alerts(officer, case.number)[0]["text"]
    opening = (await reporter.send("/report"))["text"]
    mine = [{"number": case.number, "status": lb(reporter, "status.reported")}]
    assert reporter.t("report/mine", mine=mine) in opening
    await reporter.send("/cancel")
    # Nobody else sees it in their /report.
    assert case.number not in (await officer.send("/report"))["text"]


async def test_a_status_change_can_be_undone_within_five_minutes(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E002")
    reporter = await bot.bind("E203")
    await open_from_code(bot, "E203", kind=leak.Kind.ONLINE, carrier=leak.Carrier.COMPUTER)
    await officer.send("/cases")
    await officer.press(officer.labels()[0])
    await officer.press(lb(officer, "btn.status"))
    await officer.press(lb(officer, "status.investigating"))
    changed = await officer.press(lb(officer, "btn.skip"))
    assert lb(officer, "btn.undo") in officer.labels(changed)
    clock.advance(minutes=4)
    undone = await officer.press(lb(officer, "btn.undo"))
    case = await case_info(bot.app, "BM-2026-0001")
    assert case.status is leak.Status.REPORTED  # as it was before the change
    assert undone["text"].startswith(officer.t("cases/undone", status=lb(officer, "status.reported")))
    assert lb(officer, "btn.undo") not in officer.labels(undone)
    statuses = {loc: reporter.texts.render("report/label", loc, key="status.reported") for loc in ("zh", "en")}
    assert reporter.last["text"] == reporter.t("report/status_changed", case=case, statuses=statuses, note=None)
    # After five minutes the button says it is too late and changes nothing.
    await officer.press(lb(officer, "btn.status"))
    await officer.press(lb(officer, "status.investigating"))
    changed = await officer.press(lb(officer, "btn.skip"))
    clock.advance(minutes=6)
    late = await officer.press(lb(officer, "btn.undo"), changed)
    assert late["text"].startswith(officer.t("cases/undo_expired", minutes=5))
    assert (await case_info(bot.app, "BM-2026-0001")).status is leak.Status.INVESTIGATING


async def test_after_escalation_repeats_wait_for_working_hours(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E001")
    escalation = await bot.bind(ESCALATION)
    clock.set(datetime(2026, 3, 2, 23, 50, tzinfo=TZ))  # a Monday night
    await open_from_code(bot, "E102", kind=leak.Kind.TALK, carrier=leak.Carrier.TALK, carrier_count=None)
    case = await case_info(bot.app, "BM-2026-0001")
    await tick(bot, clock, minutes=15)  # the first repeat: the escalation contact is told at once, night or not
    assert [m["text"] for m in alerts(escalation, case.number)] == [alert_text(escalation, case, 15)]
    for _ in range(8):  # then nothing moves in the night
        await tick(bot, clock, minutes=30)
    assert alerts(officer, case.number)[0]["text"] == alert_text(officer, case, 15)
    clock.set(datetime(2026, 3, 3, 9, 5, tzinfo=TZ))
    await tick(bot, clock)
    waited = int((clock.now() - case.reported_at).total_seconds() // 60)
    assert alerts(officer, case.number)[0]["text"] == alert_text(officer, case, waited)
