"""Compliance at a glance, end to end: /team with its 催办 (at most once a day per person), heads kept to their
own department, the officers' /dashboard with its chart, /export, and the weekly digest on the first working day
of each week — the real bot through the fake Bot API (and WeCom for the picture), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select, update

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.config import Policy, Settings
from bot.core.sweep import Sweep
from bot.db.models import Conversation, OutboxMessage, SentLog, Staff
from bot.db.session import Database
from bot.domain.levels import Level
from bot.handlers.departures import procedure
from bot.services.roster import import_roster, read_roster
from bot.testing.fake_bot_api import FakeBotApi
from bot.testing.fake_wecom import FakeWeCom, WeComChat, serving
from tests.conftest import EXAMPLE_ROSTER, TZ, import_example_roster
from tests.fakes.harness import bind
from tests.fakes.local import Chat, LocalBot, local_bot

# 办公室: E001 officer and head, E002 officer, E003. 基础教育科: E101 head, E102, E103. 考试院: E201 head, E202–E204.
OTHER_DEPARTMENTS = ("王建国", "李秀英", "张伟", "赵磊", "黄丽", "周杰", "吴敏", "孙强", "马琳")


# --- helpers --------------------------------------------------------------------------------------------
async def staff_id(app: BaomiApp, employee_id: str) -> int:
    async with app.db.sessions() as s:
        found = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
    assert found is not None
    return found


def nudge_label(chat: Chat, count: int) -> str:
    return chat.t("team/btn_nudge", count=count)


def nudged(chat: Chat, nudged: int, already: list[str] | None = None) -> str:
    return chat.t("team/nudged", nudged=nudged, already=already or [])


def assert_phone_png(data: bytes) -> None:
    """A real PNG, as wide as a phone screen shows without scaling, not absurdly tall or heavy."""
    image = Image.open(io.BytesIO(data))
    image.verify()
    assert image.format == "PNG"
    width, height = image.size
    assert 720 <= width <= 1600 and 400 <= height <= 4000, image.size
    assert 5_000 < len(data) < 1_000_000, len(data)


def photo_bytes(api: FakeBotApi, message: dict[str, Any]) -> bytes:
    return api.file(message["photo"][-1]["file_id"]).data


def digest_sweep(app: BaomiApp) -> Sweep:
    return next(s for s in app.jobs.sweeps if s.name == "digest")


async def run_digest(app: BaomiApp, clock: SettableClock, when: datetime) -> int:
    clock.set(when)
    return (await app.jobs.run_all(sweeps=[digest_sweep(app)]))["digest"]


def reply_message(chat: Chat, after: Any) -> Any:
    """The /team view with the 催办 button that was pressed before `after`."""
    with_buttons = [m for m in chat.bot_messages if m["message_id"] < after["message_id"] and chat.labels(m)]
    return with_buttons[-1]


# --- /team and 催办 -------------------------------------------------------------------------------------
async def test_head_sees_only_their_department(bot: LocalBot) -> None:
    head = await bot.bind("E101")
    await bot.bind("E102")
    replies_before = len(head.bot_messages)
    team = (await head.send("/team"))["text"]
    assert len(head.bot_messages) == replies_before + 1  # a small department fits one message
    assert team.startswith("【基础教育科】共 3 人，已绑定 2 人")
    assert "承诺书：0/3（0%）" in team and "保密教育：0/1（0%）" in team and "自查自评：10月开始" in team
    assert "载体清查 2026：未确认，截止 2026年12月18日" in team and "未结泄密案件：0 起" in team
    assert "未通过答卷（3）：刘洋、陈静、杨帆*" in team
    # Binding asked both for the onboarding pledge (上岗承诺), not signed yet.
    assert "其他承诺书未签：\n• 刘洋：上岗承诺，截止 2026年5月1日\n• 陈静：上岗承诺，截止 2026年5月1日" in team
    assert not [name for name in OTHER_DEPARTMENTS if name in team]
    # One 催办 for everything, counting only whom it can reach: 陈静 (杨帆 has not bound, the head is himself).
    assert head.labels() == [nudge_label(head, 1)]
    # The head's other department views stay in the department too; the office's views are refused.
    await head.send("/education")
    assert head.labels() == ["✓ 刘洋", head.t("education/btn_all"), head.t("education/btn_next")]
    assert (await head.send("/cancel"))["text"]
    for command in ("/dashboard", "/export", "/countdowns", "/cases"):
        assert (await head.send(command))["text"] == head.t("core/no_right"), command


async def test_a_head_cannot_nudge_another_department(bot: LocalBot) -> None:
    # An officer opens 考试院 and is then made a head of 办公室 only: the old button must not reach 考试院.
    officer = await bot.bind("E002")
    huang = await bot.bind("E202")
    await officer.send("/team")
    view = await officer.press("考试院")
    assert view["text"].startswith("【考试院】共 4 人，已绑定 1 人")
    # An officer's 催办 says it comes from the secrecy office, not from the department's head.
    reply = await officer.press(nudge_label(officer, 1), view)
    assert reply["text"] == nudged(officer, 1)
    duties = ["pledge", "quiz"]
    from_office = huang.t("team/nudge", duties=duties, sender="李秀英", department="考试院", by_head=False)
    assert huang.last["text"] == from_office and "保密办" in from_office
    async with bot.app.db.transaction() as s:
        await s.execute(update(Staff).where(Staff.employee_id == "E002").values(is_officer=False, is_head=True))
    said = len(huang.bot_messages)
    await officer.press(nudge_label(officer, 1), view)
    assert officer.answer() == officer.t("core/no_right")
    assert len(huang.bot_messages) == said
    team = (await officer.send("/team"))["text"]  # now a head: their own department, at once
    assert team.startswith("【办公室】") and "赵磊" not in team


async def test_nudge_reaches_each_person_at_most_once_a_day(bot: LocalBot, clock: SettableClock) -> None:
    head = await bot.bind("E201")  # 考试院: 赵磊 (head), 黄丽, 周杰 bound; 吴敏 not
    huang = await bot.bind("E202")
    zhou = await bot.bind("E203")
    await head.send("/team")
    reply = await head.press(nudge_label(head, 2))  # never the head himself, nor 吴敏 who cannot be reached
    assert reply["text"] == nudged(head, 2)
    # One message each with everything owed, a button per duty.
    expected = huang.t("team/nudge", duties=["pledge", "quiz"], sender="赵磊", department="考试院", by_head=True)
    for person in (huang, zhou):
        assert person.last["text"] == expected
        assert person.labels() == [person.t("team/nudge_btn", duty=d) for d in ("pledge", "quiz")]
    assert expected not in [m["text"] for m in head.bot_messages]
    # The button opens the pledge at once.
    await huang.press(huang.t("team/nudge_btn", duty="pledge"))
    async with bot.app.db.sessions() as s:
        conversation = await s.get(Conversation, await staff_id(bot.app, "E202"))
    assert conversation is not None and conversation.flow == "pledge"
    # The same day /team says who was reminded and offers no 催办 for them; an old button reminds nobody twice.
    team = await head.send("/team")
    assert head.t("team/reminded_today", names=["黄丽", "周杰"]) in team["text"] and head.labels(team) == []
    again = await head.press(nudge_label(head, 2), reply_message(head, reply))
    assert again["text"] == nudged(head, 0, already=["黄丽", "周杰"])
    assert [m["text"] for m in zhou.bot_messages].count(expected) == 1
    # The next day it works again.
    clock.advance(days=1)
    await head.send("/team")
    next_day = await head.press(nudge_label(head, 2))
    assert next_day["text"] == nudged(head, 2)
    assert zhou.last["text"] == expected
    async with bot.app.db.sessions() as s:
        periods = (await s.scalars(select(SentLog.period).where(SentLog.duty == "nudge"))).all()
    assert sorted(periods) == ["2026-03-02", "2026-03-02", "2026-03-03", "2026-03-03"]


# --- the office's views ---------------------------------------------------------------------------------
async def test_officer_dashboard_sends_the_chart_and_the_list(api: FakeBotApi, app: BaomiApp) -> None:
    officer = await bind(api, app, "E002", 931)
    head = await bind(api, app, "E201", 932)
    await head.send("/education")
    await head.press(head.t("education/btn_next"))
    await head.press(head.t("education/btn_today"))
    await head.press(head.t("education/form_talk"))
    await head.press(head.t("education/btn_save"))  # 考试院: 3 of 3 educated

    before = len(officer.bot_messages)
    listing = await officer.send("/dashboard")
    chart, *_ = officer.bot_messages[before:]
    assert "photo" in chart and chart["caption"] == officer.t("dashboard/chart_caption", day=date(2026, 3, 2))
    assert_phone_png(photo_bytes(api, chart))
    assert chart["has_protected_content"] is True
    async with app.db.sessions() as s:  # the row held the figures; the picture was drawn when it was sent
        stored = (await s.scalars(select(OutboxMessage.payload).where(OutboxMessage.chat_id == "931"))).all()
    charts = [p for p in stored if "chart" in p]
    assert len(charts) == 1 and "image" not in charts[0] and len(str(charts[0])) < 2_000
    text = listing["text"]
    assert text.startswith(officer.t("dashboard/heading", day=date(2026, 3, 2), count=4))
    # Lowest compliance first: 考试院 has its education done, so it comes last.
    order = [text.index(f". {name}（") for name in ("办公室", "基础教育科", "人事科", "考试院")]
    assert order == sorted(order) and "4. 考试院（4 人）合计 27%" in text
    assert "保密教育 3/3" in text and "载体清查未确认 · 未结案件 0" in text


async def test_export_sends_the_workbook_and_keeps_the_roster_off_the_chat(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    note = await officer.send("/export")
    # The 花名册 names every classified person with their level: by default the chat gets a pointer to the CLI.
    assert note.file is None
    assert note["text"] == officer.t("dashboard/roster_by_cli", year=2026)
    sent = officer.bot_messages[-2]
    assert sent.file is not None and sent.file[0] == "compliance-2026-03-02.xlsx"
    assert sent["text"] == officer.t("dashboard/export_caption", day=date(2026, 3, 2), departments=4, people=12)
    book = load_workbook(io.BytesIO(officer.file(sent)))
    assert len(book.sheetnames) >= 5
    summary = book.worksheets[0]
    names = {row[0] for row in summary.iter_rows(min_row=2, values_only=True)}
    assert {"办公室", "基础教育科", "考试院", "人事科"} <= names
    assert officer.bot_messages[-3]["text"] == officer.t("dashboard/export_making")
    # The row keeps what to make, never the workbook: it is made when sent, outside the engine's transaction.
    async with bot.app.db.sessions() as s:
        payloads = (await s.scalars(select(OutboxMessage.payload))).all()
    assert [p["export"] for p in payloads if "export" in p] == [
        {"kind": "compliance", "params": {"day": "2026-03-02", "locale": "zh"}}
    ]
    assert not any("document" in p for p in payloads)


class HeldExport:
    """The compliance maker, held until a file appears: made in the export's own process, it is given this object
    (pickled by reference), so the test can tell when it started and let it go."""

    def __init__(self, real: Any, folder: Path) -> None:
        self.real, self.folder = real, folder

    async def __call__(self, ctx: Any, params: Any) -> Any:
        (self.folder / "making").touch()
        for _ in range(400):
            if (self.folder / "release").exists():
                return await self.real(ctx, params)
            await asyncio.sleep(0.05)
        raise AssertionError("the test never released the export")


async def test_others_are_answered_while_an_export_is_being_made(
    api: FakeBotApi, app: BaomiApp, tmp_path: Path
) -> None:
    """The workbook is made when its row is sent, in a process of its own: while it is being made (here held until
    the test lets it go), another person's /status is answered."""
    officer, staff = await bind(api, app, "E001", 5001), await bind(api, app, "E103", 5002)
    makers = app.dispatcher.make_file.__self__.makers  # type: ignore[union-attr]
    makers["compliance"] = HeldExport(makers["compliance"], tmp_path)
    await api.send_text(officer.user_id, "/export")
    for _ in range(600):
        if (tmp_path / "making").exists():
            break
        await asyncio.sleep(0.05)
    assert (tmp_path / "making").exists()
    answered = len(staff.bot_messages)
    await api.send_text(staff.user_id, "/status")
    await api.wait_for(lambda _: len(staff.bot_messages) > answered, timeout=10)
    assert not any("document" in m for m in officer.bot_messages)  # still being made
    (tmp_path / "release").touch()
    await api.wait_for(lambda _: any("document" in m for m in officer.bot_messages), timeout=60)
    await officer.settle()
    assert [m["document"]["file_name"] for m in officer.bot_messages if "document" in m] == [
        "compliance-2026-03-02.xlsx"
    ]


async def test_export_sends_the_roster_too_when_the_policy_allows(
    db_url: str, db: Database, clock: SettableClock
) -> None:
    await import_example_roster(db, clock)
    async with local_bot(db_url, clock, policy=Policy(roster_export_in_chat=True)) as bot:
        officer = await bot.bind("E001")
        roster = await officer.send("/export")
    # The 花名册 last: the roster's core and important people (E001, E002, E101, E201, E202, E203, E301).
    assert roster.file is not None and roster.file[0] == "roster-2026.xlsx"
    assert roster["text"] == officer.t("dashboard/roster_caption", year=2026, count=7)
    listed = load_workbook(io.BytesIO(officer.file(roster))).worksheets[0]
    assert listed.max_row == 1 + 7
    assert officer.bot_messages[-2].file[0] == "compliance-2026-03-02.xlsx"  # type: ignore[index]


# --- the weekly digest ----------------------------------------------------------------------------------
async def test_digest_goes_out_once_a_week_on_its_first_working_day(bot: LocalBot, clock: SettableClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=TZ))  # before the first working hour
    officers = [await bot.bind("E001"), await bot.bind("E002")]
    head = await bot.bind("E201")
    # Something for each part: a missing carrier opens a case; a declassification period ends within 30 days.
    await head.send("/inventory")
    await head.send("12")
    await head.press(head.t("inventory/btn_no"))
    await head.send("1")
    await head.press(head.t("inventory/btn_submit"))
    async with bot.app.db.transaction() as s:
        await procedure.record_outside(
            s, clock.now(), await staff_id(bot.app, "E204"), Level.GENERAL, None, 6, date(2025, 9, 15), None
        )
    counts = [len(o.bot_messages) for o in officers]

    assert await run_digest(bot.app, clock, datetime(2026, 3, 2, 8, 55, tzinfo=TZ)) == 0  # before working hours
    assert await run_digest(bot.app, clock, datetime(2026, 3, 2, 9, 0, tzinfo=TZ)) == 2
    await bot.settle()
    for officer, count in zip(officers, counts, strict=True):
        chart, digest = officer.bot_messages[count:]
        assert_phone_png(officer.file(chart))
        text = digest["text"]
        assert text.startswith("【每周保密工作简报】2026年第10周（2026年3月2日）")
        # 吴敏 has left (the departure approved): 考试院 counts 3, as 办公室 does, which comes first by name.
        assert "1. 办公室 · 承诺书：3 人未完成（0/3）\n2. 办公室 · 答卷：3 人未完成（0/3）" in text
        assert "BM-2026-0001 · 已报告 · 时限 2026年3月3日 08:00（剩 23 小时）" in text
        assert "吴敏（考试院）2026年3月15日，剩 13 天" in text
        assert "2026年3月2日 年度保密承诺书签署截止（今天）\n2026年3月2日 年度保密知识答卷截止（今天）" in text
    # Not again that week, however often the sweep runs; again on the next Monday.
    assert await run_digest(bot.app, clock, datetime(2026, 3, 2, 10, 0, tzinfo=TZ)) == 0
    assert await run_digest(bot.app, clock, datetime(2026, 3, 6, 9, 0, tzinfo=TZ)) == 0
    assert await run_digest(bot.app, clock, datetime(2026, 3, 9, 9, 1, tzinfo=TZ)) == 2
    await bot.settle()
    assert [len(o.bot_messages) - c for o, c in zip(officers, counts, strict=True)] == [4, 4]


async def test_digest_after_a_holiday_monday_goes_out_on_the_first_working_day(
    app: BaomiApp, clock: SettableClock
) -> None:
    # National Day 2026: Monday 5 to Wednesday 7 October are holidays, Thursday 8 October is the first working day.
    assert await run_digest(app, clock, datetime(2026, 10, 5, 9, 30, tzinfo=TZ)) == 0
    assert await run_digest(app, clock, datetime(2026, 10, 7, 9, 30, tzinfo=TZ)) == 0
    async with app.db.transaction() as s:
        await s.execute(update(Staff).where(Staff.employee_id == "E003").values(is_officer=True))
    assert await run_digest(app, clock, datetime(2026, 10, 8, 9, 30, tzinfo=TZ)) == 3  # the roster's officers
    assert await run_digest(app, clock, datetime(2026, 10, 10, 9, 30, tzinfo=TZ)) == 0  # a 调休 Saturday, same week
    assert await run_digest(app, clock, datetime(2026, 10, 12, 9, 0, tzinfo=TZ)) == 3


async def test_jobs_preview_shows_the_digest_on_mondays(bot: LocalBot) -> None:
    await bot.bind("E001")
    await bot.bind("E002")
    planned = [p for p in await bot.app.jobs.preview(date(2026, 3, 2), date(2026, 3, 15)) if p.duty == "digest"]
    days = sorted({p.day for p in planned})
    assert days == [date(2026, 3, 2), date(2026, 3, 9)]
    assert {p.name for p in planned} == {"王建国", "李秀英"}
    assert sum(p.text.startswith("【每周保密工作简报】") for p in planned) == 4
    async with bot.app.db.sessions() as s:  # a preview keeps nothing
        assert (await s.scalars(select(SentLog).where(SentLog.duty == "digest"))).all() == []


# --- WeCom: the chart as an image message ---------------------------------------------------------------
async def test_dashboard_chart_reaches_wecom_as_an_image(db_url: str, db: Database, clock: SettableClock) -> None:
    clock.set(datetime(2026, 3, 2, 9, 41, tzinfo=TZ))  # clear of :00 and :30, when WeCom holds back pushes
    rows = [
        replace(r, wecom_userid="lixiuying" if r.employee_id == "E002" else None) for r in read_roster(EXAMPLE_ROSTER)
    ]
    async with db.transaction() as s:
        await import_roster(s, rows, clock.now(), TZ)
    async with FakeWeCom(clock) as fake:
        settings = Settings(database_url=db_url, timezone=TZ, wecom=fake.settings())
        async with serving(settings, clock, fake) as running:
            officer = WeComChat(fake, running.app, "lixiuying")
            await officer.send("/dashboard")
            images = [m for m in officer.messages if m.msgtype == "image"]
            assert len(images) == 1 and images[0].safe == 1 and images[0].filename == "compliance-2026-03-02.png"
            assert_phone_png(images[0].data)
            at = officer.messages.index(images[0])
            assert officer.messages[at - 1].text == officer.t("dashboard/chart_caption", day=date(2026, 3, 2))
            assert officer.last.text.startswith(officer.t("dashboard/heading", day=date(2026, 3, 2), count=4))
    assert timedelta(0) <= clock.now() - datetime(2026, 3, 2, 9, 41, tzinfo=TZ) < timedelta(minutes=5)
