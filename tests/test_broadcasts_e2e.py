"""Broadcasts end to end: the officer's conversation, delivery through the outbox within the fake Bot API's
limits, acknowledgements, nudges, the deadline list, an alert overtaking a running broadcast, the CLI."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot import outbox
from bot.app import BaomiApp
from bot.cli import run_command
from bot.clock import SettableClock
from bot.config import Settings
from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_staff
from bot.db.models import Binding, Conversation, Department, OutboxMessage, Staff
from bot.db.models_broadcast import Broadcast, BroadcastRecipient
from bot.db.session import Database
from bot.handlers.broadcasts import service as broadcasts
from bot.handlers.broadcasts.cli import watch
from bot.handlers.broadcasts.flows import notice_text, progress_text, queue_notices
from bot.handlers.broadcasts.rules import Audience, Tally, bar
from bot.handlers.broadcasts.service import AudienceCount, PersonLine
from bot.testing.fake_bot_api import ChatEvent, FakeBotApi, RateLimit
from bot.texts import Texts
from tests.conftest import TZ
from tests.fakes.harness import TOKEN, bind, running_bot, settle
from tests.fakes.local import Chat, LocalBot

TEXT = "请各科室于本周五前完成保密自查，并报保密办。"


async def staff_id(app: BaomiApp, employee_id: str) -> int:
    async with app.db.sessions() as s:
        found = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
    assert found is not None
    return found


def notices(chat: Chat) -> list[dict[str, Any]]:
    """The notices (and nudges) this person received, by the first line of the template."""
    heading = chat.t("broadcast/notice", text="", author="", sent_at=chat.app.clock.now(), deadline=None)
    nudge = chat.t("broadcast/nudge", notice="")
    firsts = (heading.splitlines()[0], nudge.splitlines()[0])
    return [m for m in chat.bot_messages if m["text"].startswith(firsts)]


async def test_audience_counts_preview_edit_and_cancel(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E001")
    for employee_id in ("E102", "E201", "E202"):
        await bot.bind(employee_id)
    assert (await officer.send("/broadcast"))["text"] == officer.t("broadcast/ask_text", limit=1500)
    everyone = await officer.send(TEXT)
    assert everyone["text"] == officer.t(
        "broadcast/audience", everyone=True, departments=[], levels=[], roles=[], count=AudienceCount(12, 8)
    )
    assert officer.labels()[0] == "✓ " + officer.t("broadcast/btn_everyone")
    await officer.press("考试院")
    narrowed = await officer.press("核心")
    assert narrowed["message_id"] == everyone["message_id"]  # redrawn in place
    assert narrowed["text"] == officer.t(
        "broadcast/audience",
        everyone=False,
        departments=["考试院"],
        levels=["核心"],
        roles=[],
        count=AudienceCount(2, 0),
    )
    assert {"✓ 考试院", "✓ 核心", officer.t("broadcast/btn_everyone")} <= set(officer.labels())
    await officer.press(officer.t("broadcast/btn_next"))
    preview = await officer.press(officer.t("broadcast/btn_no_ack"))
    notice = notice_text(bot.app.texts, "zh", TEXT, "王建国", clock.now(), None)
    assert preview["text"] == officer.t("broadcast/preview", notice=notice, count=AudienceCount(2, 0), deadline=None)

    # 修改: a new text, the audience kept.
    assert (await officer.press(officer.t("broadcast/btn_edit")))["text"] == officer.t("broadcast/ask_text", limit=1500)
    again = await officer.send("请核心涉密人员参加周三的保密教育。")
    assert again["text"].endswith(
        officer.t(
            "broadcast/audience",
            everyone=False,
            departments=["考试院"],
            levels=["核心"],
            roles=[],
            count=AudienceCount(2, 0),
        ).splitlines()[-1]
    )
    # Heads of any department, everyone else unselected: 4 heads, 3 of them bound (E001, E201 and not E101/E301).
    await officer.press(officer.t("broadcast/btn_everyone"))
    heads = await officer.press(officer.t("broadcast/role", role="head"))
    assert heads["text"] == officer.t(
        "broadcast/audience", everyone=False, departments=[], levels=[], roles=["负责人"], count=AudienceCount(4, 2)
    )
    await officer.press(officer.t("broadcast/btn_next"))
    await officer.press(officer.t("broadcast/btn_no_ack"))
    assert (await officer.press(officer.t("broadcast/btn_cancel")))["text"] == officer.t("broadcast/cancelled")
    async with bot.app.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0
        assert await s.scalar(select(func.count()).where(OutboxMessage.source.like("broadcast:%"))) == 0
        assert await s.get(Conversation, await staff_id(bot.app, "E001")) is None


async def test_marked_notice_is_refused_and_not_kept(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    staff = await bot.bind("E102")
    assert (await staff.send("/broadcast"))["text"] == staff.t("core/no_right")
    await officer.send("/broadcast")
    reply = await officer.send("转发机密★1年文件《教发〔2026〕3号》")
    assert reply["text"] == officer.t("guard/refused", category="marking")
    async with bot.app.db.sessions() as s:
        conv = await s.get(Conversation, await staff_id(bot.app, "E001"))
    assert conv is not None and conv.state["state"] == "writing" and "text" not in conv.state


async def test_send_delivers_reports_and_lists_blocked(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E001")
    reader = await bot.bind("E102")
    blocked = await bot.bind("E103")
    bot.channel.block(blocked.user)
    await officer.send("/broadcast")
    await officer.send(TEXT)
    await officer.press("基础教育科")  # E101 (not bound), E102, E103 (blocked the bot)
    await officer.press(officer.t("broadcast/btn_next"))
    await officer.press(officer.t("broadcast/btn_ack_days", days=1))
    preview = officer.last_with_buttons
    await officer.press(officer.t("broadcast/btn_send"))
    submitted = officer.message(preview["message_id"])
    assert submitted is not None and submitted["text"] == officer.t("broadcast/submitted", id=1, recipients=3)

    deadline = clock.now().astimezone(TZ).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=1)
    expected_notice = notice_text(bot.app.texts, "zh", TEXT, "王建国", clock.now(), deadline)
    assert [m["text"] for m in notices(reader)] == [expected_notice]
    assert reader.labels(notices(reader)[0]) == [reader.t("broadcast/btn_ack")]
    assert notices(blocked) == []

    final = Tally(delivered=1, unreachable=2)
    progress = [m for m in officer.bot_messages if m["message_id"] > preview["message_id"]][:-1]  # then the report
    assert [m["text"] for m in progress] == [progress_text(bot.app.texts, "zh", 1, final)]
    missed = [PersonLine(0, "E101", "刘洋", "基础教育科"), PersonLine(0, "E103", "杨帆", "基础教育科")]
    assert officer.last["text"] == officer.t(
        "broadcast/report", id=1, tally=final, missed=missed, limit=30, ack_required=True
    )
    async with bot.app.db.sessions() as s:
        b = await s.get(Broadcast, 1)
        rows = Counter(
            (await s.scalars(select(OutboxMessage.status).where(OutboxMessage.source == "broadcast:1"))).all()
        )
        binding = await s.scalar(select(Binding).where(Binding.channel_user_id == blocked.user))
    assert b is not None and b.recipients == 3 and b.finished_at is not None and b.ack_deadline == deadline
    assert rows == {"sent": 1, "unreachable": 1}
    assert binding is not None and binding.unreachable_at is not None

    # Unblocked, they write to the bot again: proactive messages reach them from now on.
    bot.channel.block(blocked.user, blocked=False)
    assert (await blocked.send("/help"))["text"].startswith("杨帆，您可以使用以下功能")
    async with bot.app.db.sessions() as s:
        binding = await s.scalar(select(Binding).where(Binding.channel_user_id == blocked.user))
    assert binding is not None and binding.unreachable_at is None


async def test_acknowledgements_nudges_and_deadline(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E001")
    head = await bot.bind("E201")
    chats = {e: await bot.bind(e) for e, _ in (("E202", 633), ("E203", 634), ("E204", 635))}
    await officer.send("/broadcast")
    await officer.send(TEXT)
    await officer.press("考试院")
    await officer.press(officer.t("broadcast/btn_next"))
    await officer.press(officer.t("broadcast/btn_ack_days", days=1))
    await officer.press(officer.t("broadcast/btn_send"))

    notice = notices(chats["E202"])[0]
    acked = await chats["E202"].press(chats["E202"].t("broadcast/btn_ack"), notice)
    assert acked["message_id"] == notice["message_id"] and chats["E202"].labels(acked) == []
    assert acked["text"].endswith(chats["E202"].t("broadcast/acked", notice="", at=clock.now()).strip())
    await head.press(head.t("broadcast/btn_ack"), notices(head)[0])
    async with bot.app.db.sessions() as s:
        acks = (
            await s.scalars(select(BroadcastRecipient.staff_id).where(BroadcastRecipient.acked_at.is_not(None)))
        ).all()
    assert sorted(acks) == sorted([await staff_id(bot.app, "E202"), await staff_id(bot.app, "E201")])

    listing = await officer.send("/broadcasts")
    assert "已阅 2/4" in listing["text"]
    detail = await officer.press("#1")
    assert "周杰" in detail["text"] and "吴敏" in detail["text"] and "黄丽" not in detail["text"]
    nudged = await officer.press(officer.t("broadcast/btn_nudge"), detail)
    assert nudged["text"] == officer.t("broadcast/nudged", people=2)
    assert len(notices(chats["E202"])) == 1 and len(notices(chats["E203"])) == 2  # who acknowledged is not nudged
    assert (await nudge(officer))["text"] == officer.t("broadcast/nudge_limit")  # at most once a day
    assert len(notices(chats["E203"])) == 2
    clock.advance(days=1)
    assert (await nudge(officer))["text"] == officer.t("broadcast/nudged", people=2)
    assert len(notices(chats["E203"])) == 3

    # The deadline (tomorrow 18:00) passes in the evening; the heads hear at the next working-hours tick.
    async with bot.app.db.sessions() as s:
        sent = await s.get(Broadcast, 1)
        silent = [
            PersonLine(await staff_id(bot.app, e), e, n, "考试院") for e, n in (("E203", "周杰"), ("E204", "吴敏"))
        ]
    assert sent is not None and sent.ack_deadline is not None
    expected = head.t(
        "broadcast/deadline_heads",
        id=1,
        sent_at=sent.created_at,
        text=TEXT,
        deadline=sent.ack_deadline,
        department="考试院",
        people=silent,
    )
    clock.set(sent.ack_deadline + timedelta(minutes=30))
    await bot.app.jobs.run_all()
    await bot.settle()
    assert [m for m in head.bot_messages if expected in m["text"]] == []
    clock.advance(hours=15)
    for _ in range(2):  # once per broadcast
        await bot.app.jobs.run_all()
        await bot.settle()
    assert len([m for m in head.bot_messages if expected in m["text"]]) == 1  # alone, or in a 今日待办
    # .get: the officer's messages include the weekly digest's chart, a photo without text.
    told = officer.t("broadcast/deadline_officer", id=1, silent=2)
    assert [m for m in officer.bot_messages if told in (m.get("text") or "")]


async def start_bot(api: FakeBotApi, db_url: str, workdir: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`python -m bot run` in a process of its own, as deployed."""
    full = {
        **os.environ,
        "BAOMI_DATABASE_URL": db_url,
        "BAOMI_TELEGRAM_TOKEN": TOKEN,
        "BAOMI_TELEGRAM_API_URL": api.base_url,
        **env,
    }
    with (workdir / "bot.log").open("a") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=full, cwd=workdir, stderr=log
        )
    await api.wait_for(lambda a: a.is_polling, timeout=30)
    return proc


async def nudge(officer: Chat) -> dict[str, Any]:
    await officer.send("/broadcasts")
    await officer.press("#1")
    return await officer.press(officer.t("broadcast/btn_nudge"))


async def open_chats(api: FakeBotApi, users: range) -> None:
    """The users have talked to the bot before (they bound): their chats exist, their updates are taken."""
    for user in users:
        await api.send_text(user, "/start", first_name=f"人员{user}")
    async with aiohttp.ClientSession() as http:
        offset = None
        while True:
            async with http.post(f"{api.base_url}{TOKEN}/getUpdates", json={"timeout": 0, "offset": offset}) as r:
                updates = (await r.json())["result"]
            if not updates:
                return
            offset = updates[-1]["update_id"] + 1


async def seed_bound(db: Database, clock: SettableClock, users: range) -> dict[int, int]:
    """Bound staff, one per user id; returns user id -> staff id."""
    now = clock.now()
    async with db.transaction() as s:
        dept = Department(name="考试院", created_at=now)
        s.add(dept)
        await s.flush()
        found = {}
        for user in users:
            staff = Staff(
                employee_id=f"K{user:05}",
                name=f"人员{user}",
                department_id=dept.id,
                level="general",
                is_head=False,
                is_officer=user == users[0],
                active=True,
                locale="zh",
                created_at=now,
                updated_at=now,
            )
            s.add(staff)
            await s.flush()
            s.add(
                Binding(
                    staff_id=staff.id, channel="telegram", channel_user_id=str(user), chat_id=str(user), created_at=now
                )
            )
            found[user] = staff.id
    return found


async def queue_broadcast(db: Database, clock: SettableClock, texts: Texts, author: int, text: str = TEXT) -> int:
    async with db.transaction() as s:
        created = await broadcasts.create(s, clock.now(), author, text, Audience(), None)
        info = await broadcasts.info(s, created.broadcast_id)
        assert info is not None
        await queue_notices(s, clock.now(), texts, info, "保密办", created.readers, broadcasts.source_of(info.id))
    return created.broadcast_id


async def test_limits_and_429_honoured_and_alert_overtakes(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock
) -> None:
    users = range(1001, 1061)
    staff = await seed_bound(db, clock, users)
    await open_chats(api, users)
    strict_limits(api)
    async with running_bot(api, db_url, clock, rate=30) as app:
        api.fail_next("sendMessage", status=429, retry_after=1)
        await queue_broadcast(db, clock, app.texts, staff[1001])
        app.dispatcher.wake()
        await api.wait_for(lambda a: a.bot_messages_sent >= 20, timeout=10)
        alerted = 1060  # the broadcast reaches them last
        async with db.transaction() as s:
            await send_to_staff(s, clock.now(), staff[alerted], Reply("【泄密事件警报】测试"), Priority.ALERT, "leak:1")
        app.dispatcher.wake()
        await settle(api, app, timeout=30)
        clock.advance(seconds=1)  # the 429's retry_after, on the bot's clock
        await settle(api, app, timeout=30)
        sends = [c for c in api.calls("sendMessage") if c.status == 200]
        alert_at = next(i for i, c in enumerate(sends) if c.params["text"].startswith("【泄密事件警报】"))
        assert alert_at < len(sends) - 10  # well before the broadcast's last rows
        assert api.count_429 == 1  # the one injected: our own pacing never met the fake's limits
        per_chat = Counter(int(c.params["chat_id"]) for c in sends if c.params["text"].startswith("【保密办通知】"))
        assert per_chat == Counter(dict.fromkeys(users, 1))
        async with db.sessions() as s:
            attempts = Counter(
                (await s.scalars(select(OutboxMessage.attempts).where(OutboxMessage.source == "broadcast:1"))).all()
            )
        assert attempts == {1: 60}  # the 429 is not counted against the row


def strict_limits(api: FakeBotApi) -> None:
    """Telegram's limits at their strictest: 30 in any one second, 1 in any second per chat, as requests arrive."""
    api.global_rate = RateLimit(30, 30, sliding=True)
    api.per_chat_rate = RateLimit(1, 1, sliding=True)


def record(api: FakeBotApi) -> list[tuple[float, ChatEvent]]:
    """The bot's sends, edits and answers to presses as they happen, with the time (monotonic)."""
    events: list[tuple[float, ChatEvent]] = []
    api.add_listener(lambda event: events.append((time.monotonic(), event)))
    return events


async def test_replies_keep_a_second_apart_and_a_429_holds_only_its_chat(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock
) -> None:
    await seed_bound(db, clock, range(1001, 1003))
    await open_chats(api, range(1001, 1003))
    strict_limits(api)
    events = record(api)
    async with running_bot(api, db_url, clock, rate=30) as app:
        await api.send_text(1001, "/help")
        await settle(api, app)
        api.fail_next("sendMessage", status=429, retry_after=4)
        await api.send_text(1001, "/status")  # its reply is refused: 1001 was written to a second before
        await api.wait_for(lambda a: a.count_429 == 1, timeout=10)
        refused_at = time.monotonic()
        await api.send_text(1002, "/help")  # another chat: not held
        await settle(api, app, timeout=30)
    sent = [(at, e.chat_id) for at, e in events if e.kind == "sent"]
    first, second = [at for at, chat in sent if chat == 1001]
    (other,) = [at for at, chat in sent if chat == 1002]
    assert second - first >= 1.0 and second - refused_at >= 4.0  # a second apart; the 429 waited out from its answer
    assert other < second  # the 429 held 1001's chat, not the bot
    assert api.count_429 == 1  # the injected one: the replies' pacing never met the fake's limits


async def test_a_notice_waits_while_its_reader_talks_with_the_bot_an_alert_does_not(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broadcast's notice started just before a person's next command would make its answer wait out the chat's
    second: in a chat the bot has just answered, notices and reminders wait EXCHANGE; the others go at once."""
    monkeypatch.setattr(outbox, "EXCHANGE", 4.0)
    users = range(1001, 1004)
    staff = await seed_bound(db, clock, users)
    await open_chats(api, users)
    strict_limits(api)
    events = record(api)
    async with running_bot(api, db_url, clock, rate=30) as app:
        await api.send_text(1002, "/help")
        await api.wait_for(lambda a: any(e.kind == "sent" and e.chat_id == 1002 for _, e in events), timeout=10)
        replied_at = time.monotonic()
        await queue_broadcast(db, clock, app.texts, staff[1001])
        async with db.transaction() as s:
            await send_to_staff(s, clock.now(), staff[1002], Reply("【泄密事件警报】测试"), Priority.ALERT, "leak:1")
        app.dispatcher.wake()
        await api.send_text(1002, "/status")  # the exchange goes on: its answer is not held up
        await settle(api, app, timeout=30)
    sent = [(at, e.chat_id, e.data.get("text", "")) for at, e in events if e.kind == "sent"]
    notices = {chat: at for at, chat, text in sent if text.startswith("【保密办通知】")}
    assert set(notices) == set(users)
    (alert_at,) = [at for at, chat, text in sent if text.startswith("【泄密事件警报】")]
    (status_at,) = [at for at, chat, text in sent if chat == 1002 and "【个人信息】" in text]
    assert alert_at - replied_at < 3.0  # an alert waits for the chat's second only, not for the exchange
    assert notices[1002] - status_at >= 4.0  # after the exchange, not in it
    assert max(notices[1001], notices[1003]) - replied_at < 1.5  # the others' chats were not held
    assert api.count_429 == 0


async def test_a_press_is_answered_at_once_while_its_chat_has_a_backlog(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock
) -> None:
    staff = await seed_bound(db, clock, range(1001, 1002))
    await open_chats(api, range(1001, 1002))
    strict_limits(api)
    events = record(api)
    async with running_bot(api, db_url, clock, rate=30) as app:
        await api.send_text(1001, "/language")
        await settle(api, app)
        message = next(m for m in reversed(api.chat(1001)) if api.buttons(m))
        async with db.transaction() as s:
            for n in range(4):  # four seconds of replies queued in one chat
                await send_to_staff(s, clock.now(), staff[1001], Reply(f"提醒{n}"), Priority.INTERACTIVE, "bench")
        app.dispatcher.wake()
        await api.wait_for(lambda a: any(e.kind == "sent" and "提醒" in e.data.get("text", "") for _, e in events))
        pressed_at = time.monotonic()
        query = await api.press(1001, message["message_id"], api.buttons(message)[0][1])
        await api.wait_for(lambda a: a.callback_answer(query) is not None, timeout=10)
        answered_at = time.monotonic()
        reminders_before = sum(1 for _, e in events if e.kind == "sent" and "提醒" in e.data.get("text", ""))
        await settle(api, app, timeout=30)
    assert answered_at - pressed_at < 1.0 and reminders_before < 4  # not behind the chat's backlog
    assert api.count_429 == 0


async def test_cli_previews_sends_and_follows(
    bot: LocalBot, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await bot.bind("E001")
    reader = await bot.bind("E202")
    capsys.readouterr()
    text_file = tmp_path / "notice.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    settings = Settings(database_url=db_url, timezone=TZ, telegram_token=TOKEN)
    args = ["broadcast", "send", "--text-file", str(text_file), "--audience", "department=考试院;level=核心"]
    args += ["--as", "E001", "--no-wait"]
    assert await run_command(settings, args) == 0
    preview = capsys.readouterr().out
    assert "收件人：2 人，其中 1 人无法送达" in preview
    async with bot.app.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0
    assert await run_command(settings, [*args, "--yes"]) == 0
    await bot.settle()
    assert len(notices(reader)) == 1
    out = io.StringIO()
    await watch(bot.app.db, bot.app.texts, 1, out)
    assert out.getvalue().endswith(
        bot.app.texts.render("broadcast/cli_progress", bar=bar(1.0), tally=Tally(delivered=1, unreachable=1)) + "\n"
    )
    marked = tmp_path / "marked.txt"
    marked.write_text("机密★1年", encoding="utf-8")
    assert await run_command(settings, [*args, "--yes", "--text-file", str(marked)]) == 1


async def test_kill_mid_broadcast_loses_and_doubles_nobody(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock, tmp_path: Path
) -> None:
    users = range(2001, 2121)
    staff = await seed_bound(db, clock, users)
    await open_chats(api, users)
    api.global_rate = RateLimit(60, 60)
    api.per_chat_rate = RateLimit(1, 1)
    # BAOMI_SEND_TIMEOUT: on PostgreSQL the restarted bot recovers the killed one's rows in flight once a send could
    # have ended.
    env = {"BAOMI_TELEGRAM_RATE": "60", "BAOMI_SEND_TIMEOUT": "2"}
    proc = await start_bot(api, db_url, tmp_path, env)
    try:
        await queue_broadcast(db, clock, Texts(TZ), staff[2001])
        await api.send_text(2001, "/status")  # wakes the bot's dispatcher at once
        await api.wait_for(lambda a: a.bot_messages_sent >= 40, timeout=30)
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL
        assert api.bot_messages_sent < len(users)  # the kill really fell in the middle
        proc = await start_bot(api, db_url, tmp_path, env)
        heading = Texts(TZ).render("broadcast/notice", text="", author="", sent_at=clock.now(), deadline=None)

        def received() -> Counter[int]:
            return Counter(
                chat
                for chat in users
                for m in api.chat(chat)
                if m["from"]["is_bot"] and m["text"].startswith(heading.splitlines()[0])
            )

        await api.wait_for(lambda a: len(received()) == len(users), timeout=30)
        # The rows the killed bot had in flight (delivered, as the chats show) are resolved once a send could have
        # ended: then the broadcast is finished.
        for _ in range(300):
            async with db.sessions() as s:
                if await s.scalar(select(Broadcast.finished_at)) is not None:
                    break
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert received() == Counter(dict.fromkeys(users, 1))
    finally:
        if proc.returncode is None:  # a failed wait must not leave a bot sending from a stale database
            proc.kill()
            await proc.wait()
    async with db.sessions() as s:
        rows = Counter(
            (await s.scalars(select(OutboxMessage.status).where(OutboxMessage.source == "broadcast:1"))).all()
        )
        finished = await s.scalar(select(Broadcast.finished_at))
    assert rows == {"sent": len(users)} and finished is not None


async def test_crash_rule_probes_before_sending_again(api: FakeBotApi, app: BaomiApp) -> None:
    """Two rows found `sending` at start-up: the one that arrived is marked sent, the other is sent once."""
    reader = await bind(api, app, "E102", 651)
    other = await bind(api, app, "E202", 652)
    async with app.db.transaction() as s:
        for employee_id in ("E102", "E202"):
            await send_to_staff(
                s, app.clock.now(), await staff_id(app, employee_id), Reply(TEXT), Priority.BROADCAST, "t"
            )
    await settle(api, app)
    async with app.db.transaction() as s:
        rows = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.source == "t").order_by(OutboxMessage.id))
        ).all()
        for row in rows:  # claimed by the process before this one, which died; the first one was delivered
            row.status, row.epoch = "sending", None
        rows[1].message_id = None
        arrived_id = rows[0].id
    async with aiohttp.ClientSession() as http:  # the second one never arrived
        lost = {"chat_id": 652, "message_id": other.bot_messages[-1]["message_id"]}
        async with http.post(f"{api.base_url}{TOKEN}/deleteMessage", json=lost) as r:
            assert r.status == 200
    await app.dispatcher.recover(at_once=True)
    await settle(api, app)
    assert [m["text"] for m in reader.bot_messages].count(TEXT) == 1
    assert [m["text"] for m in other.bot_messages].count(TEXT) == 1
    async with app.db.sessions() as s:
        arrived = await s.get(OutboxMessage, arrived_id)
    assert arrived is not None and arrived.status == "sent" and arrived.attempts == 1


async def test_officer_demoted_by_a_roster_import_cannot_finish_a_broadcast(bot: LocalBot, db: Database) -> None:
    """The role is asked at every step, not only when the flow starts: an import that takes the officer role away
    ends the open /broadcast at the next text or press, and nothing is sent."""
    from dataclasses import replace

    from bot.domain.levels import Role
    from bot.services.roster import import_roster, read_roster
    from tests.conftest import EXAMPLE_ROSTER

    officer = await bot.bind("E001")
    await bot.bind("E102")
    await officer.send("/broadcast")
    await officer.send(TEXT)
    await officer.press(officer.t("broadcast/btn_next"))
    preview_button = officer.last_with_buttons

    rows = [
        replace(r, roles=frozenset({Role.STAFF, Role.HEAD})) if r.employee_id == "E001" else r
        for r in read_roster(EXAMPLE_ROSTER)
    ]
    async with db.transaction() as s:
        await import_roster(s, rows, bot.clock.now(), TZ)

    refused = await officer.press(officer.t("broadcast/btn_no_ack"), preview_button)
    assert refused["text"] == officer.t("core/right_withdrawn")
    async with bot.app.db.sessions() as s:
        assert await s.get(Conversation, await staff_id(bot.app, "E001")) is None
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0
    # A typed text in the middle of the flow meets the same check.
    assert (await officer.send("/broadcast"))["text"] == officer.t("core/no_right")


async def test_the_sender_is_not_silent_and_the_unbound_are_not_delivered(bot: LocalBot) -> None:
    officer = await bot.bind("E001")  # 王建国, 办公室
    reader = await bot.bind("E002")  # 李秀英, 办公室; 张伟 (E003) has not bound
    await officer.send("/broadcast")
    await officer.send("请办公室同志本周内完成保密自查。")
    await officer.send("办公室")
    await officer.send(officer.t("broadcast/btn_next"))
    await officer.send(officer.t("broadcast/btn_ack_days", days=1))
    await officer.send(officer.t("broadcast/btn_send"))
    await officer.send("/broadcasts")
    detail = (await officer.press("#1"))["text"]
    silent, _, rest = detail.partition("尚未确认：")[2].partition("未送达")
    assert "李秀英" in silent and "王建国" not in detail.partition("尚未确认")[2] and "张伟" not in silent
    assert "张伟" in rest
    assert reader.bot_messages
    # At the deadline the office hears of the one who was reached and stayed silent, not of the unbound.
    async with bot.app.db.sessions() as s:
        sent = await s.get(Broadcast, 1)
    assert sent is not None and sent.ack_deadline is not None
    bot.clock.set(sent.ack_deadline + timedelta(hours=15))
    await bot.app.jobs.run_all()
    await bot.settle()
    told = officer.t("broadcast/deadline_officer", id=1, silent=1)
    assert [m for m in officer.bot_messages if told in (m.get("text") or "")]


async def test_a_typed_name_adds_a_person_to_the_audience(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    await officer.send("/broadcast")
    await officer.send(TEXT)
    await officer.press("基础教育科")  # three people
    found = await officer.send("黄丽")
    assert "黄丽 E202" in officer.labels() and "1 人" in found["text"]
    named = await officer.press("黄丽 E202")
    assert "✓ 黄丽 E202" in officer.labels()
    assert "另加人员 黄丽" in named["text"] and "共 4 人" in named["text"]
    await officer.press(officer.t("broadcast/btn_everyone"))  # everyone again: the named person too is cleared
    await officer.send("E202")
    alone = await officer.press("黄丽 E202")
    assert "当前范围：人员 黄丽" in alone["text"] and "共 1 人" in alone["text"]
