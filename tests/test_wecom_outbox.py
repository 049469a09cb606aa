"""Sending to WeCom through the real dispatcher and the fake WeCom API: tokens, errors, WeCom's per-member
quotas, the :00/:30 rule and resending after a crash."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from bot.channels.wecom.quotas import PROACTIVE_PER_MINUTE
from bot.clock import SettableClock
from bot.config import Settings
from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_staff
from bot.db.models import Binding, OutboxMessage
from bot.db.session import Database
from bot.server import Server
from bot.testing.fake_wecom import FakeWeCom, WeComChat, serving, settle
from bot.testing.seed import seed_bound_staff
from tests.conftest import TZ

PEOPLE = 200


async def seed_people(db: Database, clock: SettableClock, count: int = PEOPLE) -> list[int]:
    """`count` people with a WeCom account each (u001, u002, …), bound already."""
    return await seed_bound_staff(db, clock.now(), count, department="考试院", prefix="K", channel="wecom")


async def queue(db: Database, clock: SettableClock, staff_ids: list[int], text: str, priority: Priority) -> None:
    async with db.transaction() as s:
        for staff_id in staff_ids:
            await send_to_staff(s, clock.now(), staff_id, Reply(text), priority, "test")


@pytest.fixture
def settings(fake: FakeWeCom, db_url: str) -> Settings:
    return Settings(database_url=db_url, timezone=TZ, wecom=fake.settings())


async def statuses(db: Database) -> Counter[str]:
    async with db.sessions() as s:
        return Counter((await s.scalars(select(OutboxMessage.status))).all())


async def test_quotas_hold_in_a_200_recipient_broadcast_and_replies_still_go_out(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    app = server.app
    ids = await seed_people(db, clock)
    await queue(db, clock, ids, "关于开展保密自查的通知", Priority.BROADCAST)
    await queue(db, clock, ids, "请于本周五前完成保密自查", Priority.BROADCAST)
    # One member is also owed 40 reminders: more than WeCom lets through in a minute. (Each says something else:
    # WeCom's duplicate check would rightly collapse the same words.)
    for i in range(40):
        await queue(db, clock, ids[:1], f"提醒 {i}", Priority.REMINDER)
    app.dispatcher.wake()
    await settle(app)
    first_minute = Counter(m.touser for u in range(1, PEOPLE + 1) for m in fake.messages(f"u{u:03}"))
    assert first_minute["u001"] == PROACTIVE_PER_MINUTE
    assert all(first_minute[f"u{u:03}"] == 2 for u in range(2, PEOPLE + 1))
    # The member's quota for proactive messages is full, but an answer to them still goes out at once.
    chat = WeComChat(fake, app, "u001")
    assert (await chat.send("/cancel")).text == chat.t("core/nothing_to_cancel")

    for _ in range(3):
        clock.advance(seconds=66)
        app.dispatcher.wake()
        await settle(app)
    assert len(fake.messages("u001")) == 42 + 1
    assert sum(len(fake.messages(f"u{u:03}")) for u in range(1, PEOPLE + 1)) == 2 * PEOPLE + 40 + 1
    assert fake.dropped == Counter()  # WeCom never had to drop one
    async with db.sessions() as s:
        attempts = await s.scalar(select(func.max(OutboxMessage.attempts)))
    assert attempts == 1  # waiting for the quota is not a failed attempt
    assert await statuses(db) == {"sent": 2 * PEOPLE + 40 + 1}


async def test_a_restart_remembers_what_was_sent_within_the_hour(
    fake: FakeWeCom, settings: Settings, db: Database, clock: SettableClock
) -> None:
    ids = await seed_people(db, clock, 1)
    async with serving(settings, clock, fake) as server:
        for i in range(PROACTIVE_PER_MINUTE):
            await queue(db, clock, ids, f"提醒 {i}", Priority.REMINDER)
        server.app.dispatcher.wake()
        await settle(server.app)
    assert len(fake.messages("u001")) == PROACTIVE_PER_MINUTE
    async with serving(settings, clock, fake) as server:
        await queue(db, clock, ids, "再提醒", Priority.REMINDER)
        server.app.dispatcher.wake()
        await settle(server.app)
        assert len(fake.messages("u001")) == PROACTIVE_PER_MINUTE  # held back, not sent into WeCom's void
        clock.advance(seconds=66)
        server.app.dispatcher.wake()
        await settle(server.app)
    assert fake.messages("u001")[-1].text == "再提醒"
    assert fake.dropped == Counter()


async def test_scheduled_messages_wait_out_the_half_hour_and_alerts_do_not(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    ids = await seed_people(db, clock, 2)
    clock.set(datetime(2026, 3, 2, 10, 30, 5, tzinfo=TZ))
    await queue(db, clock, ids[:1], "提醒", Priority.REMINDER)
    await queue(db, clock, ids[1:], "泄密事件警报", Priority.ALERT)
    server.app.dispatcher.wake()
    await settle(server.app)
    assert fake.messages("u001") == [] and [m.text for m in fake.messages("u002")] == ["泄密事件警报"]
    clock.advance(seconds=55)
    server.app.dispatcher.wake()
    await settle(server.app)
    (reminder,) = fake.messages("u001")
    assert reminder.at == datetime(2026, 3, 2, 10, 31, tzinfo=TZ)


async def test_token_lifetime_expiry_and_rejection_are_survived(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    ids = await seed_people(db, clock, 1)
    await queue(db, clock, ids, "一", Priority.ALERT)
    await settle(server.app)
    assert len(fake.calls("gettoken")) == 1
    clock.advance(seconds=7200 - 60)  # about to run out: fetched anew before use, not after a failure
    await queue(db, clock, ids, "二", Priority.ALERT)
    await settle(server.app)
    assert len(fake.calls("gettoken")) == 2 and fake.calls("message/send")[-1].errcode == 0
    fake.expire_tokens()  # WeCom ended it early (e.g. the secret was reset)
    await queue(db, clock, ids, "三", Priority.ALERT)
    await settle(server.app)
    fake.fail_next("message/send", 40014)
    await queue(db, clock, ids, "四", Priority.ALERT)
    await settle(server.app)
    assert [m.text for m in fake.messages("u001")] == ["一", "二", "三", "四"]
    assert [c.errcode for c in fake.calls("message/send")] == [0, 0, 42001, 0, 40014, 0]
    assert len(fake.calls("gettoken")) == 4


async def test_a_busy_wecom_is_waited_out_a_minute_without_losing_an_attempt(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    ids = await seed_people(db, clock, 1)
    for errcode in (45033, -1):
        fake.fail_next("message/send", errcode)
        await queue(db, clock, ids, f"通知 {errcode}", Priority.BROADCAST)
        server.app.dispatcher.wake()
        await settle(server.app)
        async with db.sessions() as s:
            row = await s.scalar(select(OutboxMessage).where(OutboxMessage.status != "sent"))
        assert row is not None and (row.status, row.attempts) == ("pending", 0)
        calls = len(fake.calls("message/send"))
        clock.advance(seconds=30)
        server.app.dispatcher.wake()
        await settle(server.app)
        assert len(fake.calls("message/send")) == calls  # the channel waits: no call while WeCom is busy
        clock.advance(seconds=31)
        server.app.dispatcher.wake()
        await settle(server.app)
        assert fake.messages("u001")[-1].text == f"通知 {errcode}"
    assert len(fake.messages("u001")) == 2 and await statuses(db) == {"sent": 2}


async def test_a_member_wecom_does_not_know_is_marked_unreachable(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    ids = await seed_people(db, clock, 2)
    fake.unknown_users.add("u002")
    await queue(db, clock, ids, "通知", Priority.ALERT)
    await settle(server.app)
    assert await statuses(db) == {"sent": 1, "unreachable": 1}
    async with db.sessions() as s:
        gone = (await s.scalars(select(Binding.chat_id).where(Binding.unreachable_at.is_not(None)))).all()
    assert gone == ["u002"]


async def test_a_send_in_flight_at_a_crash_is_sent_again_and_wecom_collapses_it(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    ids = await seed_people(db, clock, 1)
    await queue(db, clock, ids, "提醒", Priority.REMINDER)
    chat = WeComChat(fake, server.app, "u001")
    await chat.send("/language")  # a text with the options numbered, and a card
    delivered = len(chat.messages)
    # As if the process before this one had died after sending but before recording: both rows are found in
    # `sending`, claimed by no term of this one's.
    async with db.transaction() as s:
        await s.execute(update(OutboxMessage).where(OutboxMessage.op == "send").values(status="sending", epoch=None))
    await server.app.dispatcher.recover(at_once=True)
    server.app.dispatcher.wake()
    await settle(server.app)
    # Sent again: WeCom's duplicate check kept the reminder and the card from showing twice. The text said with the
    # card is a reply to a person in a conversation, without the check (the same words may rightly be said twice
    # within ten minutes): it arrives a second time.
    assert len(chat.messages) == delivered + 1 and [m.text for m in chat.messages].count(chat.last.text) == 2
    assert chat.last.msgtype == "text" and chat.last.text.endswith("[2] English")
    assert fake.duplicates == Counter({"u001": 2})
    assert await statuses(db) == {"sent": 2}
