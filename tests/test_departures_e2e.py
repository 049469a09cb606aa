"""The departure procedure (离岗) end to end on the in-process channel, on SQLite and PostgreSQL: an officer starts
it, the person lists the handover (counts only), the head confirms receipt and records the education, the person
signs the departure pledge, the officer approves and the 脱密期 runs from the approval (教育局保密工作制度篇3
第十三条、第十四条); approval refused while a step is missing or the pledge is refused; `baomi depart` for an
approval given on paper; the reminder of a step that waits."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from bot.cli import run_command
from bot.clock import SettableClock
from bot.config import Settings
from bot.db.models import AuditLog, Staff
from bot.db.models_pledge import Departure, PledgeRequest
from bot.domain.levels import Level
from bot.handlers.departures import procedure
from bot.handlers.departures.procedure import Handover, Procedure
from bot.handlers.departures.rules import DepartureKind
from bot.handlers.departures.service import running
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.rules import PledgeKind
from bot.services import people
from tests.conftest import IN_STRIDE, TZ
from tests.fakes.local import Chat, LocalBot

OFFICER, HEAD, STAFF = "E001", "E101", "E102"  # 王建国 (办公室), 刘洋 (head of 基础教育科), 陈静 (一般)


def word(chat: Chat, key: str) -> str:
    return chat.t("depart/word", key=key)


async def current(bot: LocalBot, employee_id: str) -> Procedure:
    async with bot.app.db.sessions() as s:
        found = await procedure.under_way_for(s, await bot.staff_id(employee_id))
    assert found is not None
    return found


async def named(bot: LocalBot, employee_id: str) -> people.Person:
    async with bot.app.db.sessions() as s:
        found = await people.by_employee_id(s, employee_id)
    assert found is not None
    return found


async def audit_actions(bot: LocalBot) -> list[str]:
    async with bot.app.db.sessions() as s:
        query = select(AuditLog.action).where(AuditLog.action.like("departure.%")).order_by(AuditLog.id)
        return list((await s.scalars(query)).all())


async def start(bot: LocalBot, employee_id: str = STAFF, kind: DepartureKind = DepartureKind.TRANSFER) -> Procedure:
    """Starts a procedure as the officer would (the service the flow calls)."""
    async with bot.app.db.transaction() as s:
        sid = await bot.staff_id(employee_id)
        officer = await bot.staff_id(OFFICER)
        level = Level((await s.get(Staff, sid)).level)  # type: ignore[union-attr]
        return await procedure.start(s, bot.clock.now(), sid, level, kind, 6, officer)


async def sign(chat: Chat, name: str) -> None:
    """Opens /pledge (the departure pledge comes first), pages to the end, agrees and signs."""
    await chat.send("/pledge")
    while chat.t("pledge/word", key="next") in chat.labels():
        await chat.press(chat.t("pledge/word", key="next"))
    await chat.press(chat.t("pledge/word", key="agree"))
    await chat.send(name)


async def owed_kinds(bot: LocalBot, staff_id: int) -> list[PledgeKind]:
    """The pledges the person is asked for, as /status and /pledge list them."""
    async with bot.app.db.sessions() as s:
        found = await pledges.owed(s, staff_id, date(2026, 3, 2), 2026, IN_STRIDE, load_catalog().catalog)
    return [o.kind for o in found]


async def test_the_whole_procedure_from_start_to_approval(bot: LocalBot, clock: SettableClock) -> None:
    officer, head, person = await bot.bind(OFFICER), await bot.bind(HEAD), await bot.bind(STAFF)
    assert (await officer.send("/depart"))["text"] == officer.t("depart/ask_id")  # nothing under way
    await officer.send("静")  # a part of the name finds 陈静
    assert officer.labels()[:2] == [officer.t("depart/kind", kind="transfer"), officer.t("depart/kind", kind="post")]
    await officer.press(officer.t("depart/kind", kind="transfer"))
    assert officer.labels() == [word(officer, "start"), word(officer, "cancel")]
    started = await officer.press(word(officer, "start"))
    p = await current(bot, STAFF)
    assert p.kind is DepartureKind.TRANSFER and p.months == 6 and p.approved_on is None
    assert started["text"] == officer.t("depart/started", p=p)
    assert person.last["text"] == person.t("depart/person_started", p=p)
    assert head.last["text"] == head.t("depart/head_started", p=p)

    # The person: the handover list, counts only, shown before it is submitted.
    assert person.t("depart/status", p=p) in (await person.send("/status"))["text"]
    await person.press(word(person, "open"), person.last_with_buttons)
    await person.press(word(person, "declare"))
    assert person.last["text"] == person.t("depart/ask_count", what="paper")
    assert (await person.send("很多"))["text"] == person.t("depart/bad_count", limit=9999)
    await person.send("3")
    await person.send("１")  # full-width digits, as a phone may type them
    shown = await person.send("0")
    assert shown["text"] == person.t("depart/confirm_handover", paper=3, media=1, devices=0)
    assert (await person.press(word(person, "submit")))["text"] == person.t("depart/handover_done")
    p = await current(bot, STAFF)
    assert p.handover == Handover(3, 1, 0)
    assert head.last["text"] == head.t("depart/head_receipt_asked", p=p)

    # The head: receipt, then the education, each confirmed.
    await head.press(word(head, "open"), head.last_with_buttons)
    assert head.labels() == [word(head, "receive"), word(head, "educate")]
    await head.press(word(head, "receive"))
    assert head.last["text"] == head.t("depart/confirm_act", act="receive", p=p, today=clock.now().date(), ends_on=None)
    await head.press(word(head, "yes"))
    async with bot.app.db.sessions() as s:
        request = await s.scalar(select(PledgeRequest).where(PledgeRequest.departure_id == p.id))
    assert request is not None and request.kind == "departure"
    assert person.last["text"] == person.t("depart/pledge_asked", p=p, due=request.due_on)
    assert request.due_on == date(2026, 3, 5)  # three working days after Monday 2 March
    await head.send("/leave")
    await head.press(word(head, "educate"))
    await head.press(word(head, "yes"))

    # The officer cannot approve before the pledge is signed, and is told what is missing.
    await officer.send("/depart")
    await officer.press("陈静（E102）")
    refused = await officer.press(word(officer, "approve"))
    p = await current(bot, STAFF)
    assert [s.value for s in p.missing] == ["pledge"]
    assert officer.bot_messages[-2]["text"] == officer.t("depart/not_ready", p=p)
    assert refused["text"] == officer.t("depart/procedure", p=p)

    # The person signs; the pledge states the period by its length, from the approval to come.
    await sign(person, "陈静")
    p = await current(bot, STAFF)
    assert p.missing == [] and p.pledge is not None and p.pledge.value == "signed"
    assert officer.last["text"] == officer.t("pledge/departure_office", person=await named(bot, STAFF), signed=True)

    # Approval, confirmed: the 脱密期 runs from the next day to the corresponding day (民法典 第二百零二条).
    clock.set(datetime(2026, 3, 4, 10, 0, tzinfo=TZ))
    await officer.send("/depart")
    await officer.press("陈静（E102）")
    await officer.press(word(officer, "approve"))
    assert officer.last["text"] == officer.t(
        "depart/confirm_act", act="approve", p=p, today=date(2026, 3, 4), ends_on=date(2026, 9, 4)
    )
    done = await officer.press(word(officer, "yes"))
    async with bot.app.db.sessions() as s:
        row = await s.get(Departure, p.id)
        staff = await s.get(Staff, p.staff_id)
        approved = await procedure.by_id(s, p.id)
        countdowns = await running(s, date(2026, 3, 4))
    assert row is not None and staff is not None and approved is not None
    assert (row.approved_on, row.ends_on, row.months) == (date(2026, 3, 4), date(2026, 9, 4), 6)
    assert row.approved_by == await bot.staff_id(OFFICER) and not row.outside
    assert not staff.active and staff.departed_on == date(2026, 3, 4)  # a transfer leaves the bureau
    assert done["text"] == officer.t("depart/approved", p=approved)
    assert person.last["text"] == person.t("depart/approved_person", procedure=approved)
    assert [c.ends_on for c in countdowns] == [date(2026, 9, 4)]
    assert await audit_actions(bot) == [
        "departure.start",
        "departure.handover",
        "departure.receipt",
        "departure.education",
        "departure.approve",
    ]


async def test_approval_is_refused_while_a_step_is_missing(bot: LocalBot) -> None:
    officer = await bot.bind(OFFICER)
    p = await start(bot)
    await officer.send(f"/depart {STAFF.lower()}")  # the employee id in any case
    assert officer.bot_messages[-2]["text"] == officer.t("depart/already", p=p)
    await officer.press(word(officer, "approve"))
    assert officer.bot_messages[-2]["text"] == officer.t("depart/not_ready", p=p)
    assert "清退清单" in officer.bot_messages[-2]["text"] and "离岗保密承诺书" in officer.bot_messages[-2]["text"]
    assert [s.value for s in p.missing] == ["handover", "receipt", "education", "pledge"]
    async with bot.app.db.sessions() as s:
        row = await s.get(Departure, p.id)
        staff = await s.get(Staff, p.staff_id)
    assert row is not None and row.approved_on is None and row.ends_on is None
    assert staff is not None and staff.active
    # The service refuses too, whoever calls it.
    async with bot.app.db.transaction() as s:
        with pytest.raises(procedure.NotReady):
            await procedure.approve(s, bot.clock.now(), p.id, date(2026, 3, 2), None)


async def test_a_refused_pledge_blocks_approval_and_the_office_is_told_what_it_can_do(
    bot: LocalBot, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    officer, person = await bot.bind(OFFICER), await bot.bind(STAFF)
    p = await start(bot)
    head = await bot.staff_id(HEAD)
    async with bot.app.db.transaction() as s:
        now = bot.clock.now()
        assert await procedure.declare_handover(s, now, p.id, p.staff_id, Handover(0, 0, 1))
        assert await procedure.confirm_receipt(s, now, p.id, head, date(2026, 3, 5))
        assert await procedure.record_education(s, now, p.id, head)
    await person.send("/pledge")
    while person.t("pledge/word", key="next") in person.labels():
        await person.press(person.t("pledge/word", key="next"))
    await person.press(person.t("pledge/word", key="decline"))
    await person.press(person.t("pledge/word", key="confirm_decline"))
    refused = await current(bot, STAFF)
    assert refused.pledge_refused and [s.value for s in refused.missing] == ["pledge"]
    told = officer.last["text"]
    assert told == officer.t("pledge/departure_office", person=await named(bot, STAFF), signed=False)
    assert "拒绝签署离岗保密承诺书" in told and "baomi depart E102" in told

    await officer.send("/depart")
    await officer.press("陈静（E102）")
    await officer.press(word(officer, "approve"))
    said = officer.bot_messages[-2]["text"]
    assert said == officer.t("depart/not_ready", p=refused)
    assert "拒绝签署" in said and "/pledge" in said and "baomi depart E102" in said
    assert word(officer, "yes") not in officer.labels()

    # Signed on paper after a talk: the command line records it, the pledge marked as done outside.
    settings = Settings(database_url=db_url, timezone=TZ)
    assert await run_command(settings, ["depart", STAFF, "--date", "2026-03-02", "--by", OFFICER]) == 0
    async with bot.app.db.sessions() as s:
        row = await s.get(Departure, p.id)
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "departure.outside"))
    assert row is not None and row.approved_on == date(2026, 3, 2) and row.outside
    assert entry is not None and entry.detail["steps"] == ["pledge"]


async def test_the_command_line_records_a_paper_approval_with_every_step_outside(
    bot: LocalBot, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    chat = await bot.bind("E201")  # 核心涉密人员: two years
    settings = Settings(database_url=db_url, timezone=TZ)
    args = ["depart", "E201", "--date", "2026-02-27", "--by", OFFICER, "--kind", "retirement"]
    assert await run_command(settings, args) == 0
    assert await run_command(settings, args) == 1  # gone already
    await bot.settle()
    async with bot.app.db.sessions() as s:
        [dep] = (await s.scalars(select(Departure))).all()
        requests = (await s.scalars(select(PledgeRequest).where(PledgeRequest.departure_id == dep.id))).all()
        entries = (
            await s.scalars(select(AuditLog).where(AuditLog.action.like("departure.%")).order_by(AuditLog.id))
        ).all()
        approved = await procedure.by_id(s, dep.id)
    officer = await bot.staff_id(OFFICER)
    assert (dep.months, dep.ends_on, dep.recorded_by, dep.approved_by) == (24, date(2028, 2, 27), officer, officer)
    assert dep.outside and dep.kind == "retirement" and requests == []  # the pledge was signed on paper
    assert [e.action for e in entries] == ["departure.start", "departure.outside", "departure.approve"]
    assert entries[1].detail["steps"] == ["handover", "receipt", "education", "pledge"]
    assert all(e.actor_staff_id == officer for e in entries)
    assert chat.last["text"] == chat.t("depart/approved_person", procedure=approved)
    out = capsys.readouterr().out
    assert "2028-02-27" in out and "离岗前保密教育" in out


async def test_the_command_line_completes_a_procedure_under_way_marking_only_what_is_missing(
    bot: LocalBot, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    p = await start(bot)
    async with bot.app.db.transaction() as s:
        assert await procedure.declare_handover(s, bot.clock.now(), p.id, p.staff_id, Handover(1, 0, 0))
    settings = Settings(database_url=db_url, timezone=TZ)
    assert await run_command(settings, ["depart", STAFF, "--date", "2026-03-01"]) == 0
    async with bot.app.db.sessions() as s:
        rows = (await s.scalars(select(Departure))).all()
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "departure.outside"))
    assert [r.id for r in rows] == [p.id] and rows[0].ends_on == date(2026, 9, 1) and rows[0].approved_by is None
    assert entry is not None and entry.detail["steps"] == ["receipt", "education", "pledge"]


async def test_a_procedure_completed_on_paper_asks_for_its_departure_pledge_no_more(bot: LocalBot, db_url: str) -> None:
    p = await start(bot)
    async with bot.app.db.transaction() as s:
        now = bot.clock.now()
        assert await procedure.declare_handover(s, now, p.id, p.staff_id, Handover(1, 0, 0))
        assert await procedure.confirm_receipt(s, now, p.id, await bot.staff_id(HEAD), date(2026, 3, 9))
    assert PledgeKind.DEPARTURE in await owed_kinds(bot, p.staff_id)
    # The rest, the pledge included, done on paper.
    assert await run_command(Settings(database_url=db_url, timezone=TZ), ["depart", STAFF, "--date", "2026-03-01"]) == 0
    assert PledgeKind.DEPARTURE not in await owed_kinds(bot, p.staff_id)


async def test_strangers_staff_and_heads_cannot_start_or_approve(bot: LocalBot) -> None:
    stranger = bot.chat()
    assert (await stranger.send("/depart"))["text"] == stranger.t("core/stranger")
    for employee_id in (STAFF, HEAD):
        chat = await bot.bind(employee_id)
        assert (await chat.send("/depart"))["text"] == chat.t("core/no_right")
        assert (await chat.send("离岗办理"))["text"] == chat.t("core/no_right")
    p = await start(bot, "E203")  # 考试院: not this head's department
    head = await bot.bind(HEAD)
    assert (await head.send("/leave"))["text"] == head.t("depart/leave_nothing")
    other = await bot.bind("E204")
    assert (await other.send("/leave"))["text"] == other.t("depart/leave_nothing")
    async with bot.app.db.transaction() as s:
        # Nobody confirms their own handover or education.
        assert not await procedure.record_education(s, bot.clock.now(), p.id, p.staff_id)
    assert (await current(bot, "E203")).missing[0].value == "handover"


async def test_a_kind_that_stays_in_the_bureau_keeps_the_person_without_a_classified_level(bot: LocalBot) -> None:
    p = await start(bot, kind=DepartureKind.POST)
    head = await bot.staff_id(HEAD)
    async with bot.app.db.transaction() as s:
        now = bot.clock.now()
        await procedure.declare_handover(s, now, p.id, p.staff_id, Handover(0, 0, 0))
        await procedure.confirm_receipt(s, now, p.id, head, date(2026, 3, 5))
        await procedure.record_education(s, now, p.id, head)
    person = await bot.bind(STAFF)
    await sign(person, "陈静")
    async with bot.app.db.transaction() as s:
        await procedure.approve(s, bot.clock.now(), p.id, date(2026, 3, 2), await bot.staff_id(OFFICER))
    async with bot.app.db.sessions() as s:
        staff = await s.get(Staff, p.staff_id)
    assert staff is not None and staff.active and staff.level == "none"
    assert (await person.send("/help"))["text"] != person.t("core/departed")


async def test_a_step_waiting_three_working_days_reminds_once(bot: LocalBot, clock: SettableClock) -> None:
    person = await bot.bind(STAFF)
    p = await start(bot)  # Monday 2 March

    def reminders() -> list[str]:
        return [m["text"] for m in person.bot_messages if "depart" in str(person.buttons(m)) or "离岗手续" in m["text"]]

    await bot.sweep(datetime(2026, 3, 5, 10, 0, tzinfo=TZ))  # Thursday: two working days waited
    assert not any(person.t("depart/reminder", p=p, step="handover", days=2) in t for t in reminders())
    before = len(reminders())
    await bot.sweep(datetime(2026, 3, 6, 10, 0, tzinfo=TZ))  # Friday: three
    expected = person.t("depart/reminder", p=p, step="handover", days=3)
    assert [t for t in reminders() if expected in t] and len(reminders()) == before + 1
    await bot.sweep(datetime(2026, 3, 9, 10, 0, tzinfo=TZ))
    await bot.sweep(datetime(2026, 3, 16, 10, 0, tzinfo=TZ))
    assert len(reminders()) == before + 1  # once, not daily


async def test_the_office_can_cancel_a_procedure_started_by_mistake(bot: LocalBot) -> None:
    officer, person = await bot.bind(OFFICER), await bot.bind(STAFF)
    p = await start(bot)
    async with bot.app.db.transaction() as s:  # as far as the pledge: the cancellation withdraws it too
        now, head = bot.clock.now(), await bot.staff_id(HEAD)
        assert await procedure.declare_handover(s, now, p.id, p.staff_id, Handover(0, 1, 0))
        assert await procedure.confirm_receipt(s, now, p.id, head, date(2026, 3, 5))
    assert person.t("pledge/word", key="departure") in (await person.send("/status"))["text"]
    p = await current(bot, STAFF)
    await officer.send(f"/depart {STAFF}")
    await officer.press(word(officer, "stop"))
    assert officer.last["text"] == officer.t(
        "depart/confirm_act", act="stop", p=p, today=bot.clock.now().date(), ends_on=None
    )
    await officer.press(word(officer, "back"))  # going back does nothing
    async with bot.app.db.sessions() as s:
        assert await procedure.under_way_for(s, p.staff_id) is not None
    await officer.press(word(officer, "stop"))
    done = await officer.press(word(officer, "yes"))
    assert done["text"] == officer.t("depart/done_act", act="stop", p=p)
    assert person.last["text"] == person.t("depart/cancelled_person", p=p)
    assert (await person.send("/leave"))["text"] == person.t("depart/leave_nothing")
    assert person.t("pledge/word", key="departure") not in (await person.send("/status"))["text"]
    assert "departure.cancel" in await audit_actions(bot)


async def test_the_officer_list_shows_ten_a_page_with_what_each_waits_for(bot: LocalBot) -> None:
    officer = await bot.bind(OFFICER)
    ids = ["E002", "E003", "E101", "E102", "E103", "E201", "E202", "E203", "E204", "E301", "E302"]
    for employee_id in ids:
        await start(bot, employee_id)
    first = await officer.send("/depart")
    async with bot.app.db.sessions() as s:
        under_way = await procedure.in_progress(s)
    assert len(under_way) == 11
    assert first["text"] == officer.t("depart/list", procedures=under_way[:10], total=11, page=1, pages=2)
    assert officer.labels()[:10] == [f"{p.name}（{p.employee_id}）" for p in under_way[:10]]
    assert officer.labels()[10:] == ["1/2", officer.t("core/paging", key="next")]
    second = await officer.press(officer.t("core/paging", key="next"))
    assert second["text"] == officer.t("depart/list", procedures=under_way[10:], total=11, page=2, pages=2)
    assert "待：清退清单（本人）" in second["text"]
    # Typing a name there still starts or opens one.
    await officer.send("马琳")
    assert officer.last["text"] == officer.t("depart/procedure", p=under_way[10])
