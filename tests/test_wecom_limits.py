"""What WeCom lets the application send, and what the channel does when WeCom says no: frequency blocks of a
minute, an hour or the rest of the day, setup errors an operator must fix, members WeCom does not deliver to, and
the application's daily total (accounts × 200 person-messages). Rows wait, pending, without losing attempts;
nothing is lost, and the log and the officers' digest say what happened."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.channels.wecom.channel import SENT_TODAY, SETUP_PAUSE, WeComChannel
from bot.clock import SettableClock
from bot.config import Settings
from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_staff
from bot.db.models import AuditLog, Binding, InstallationValue, OutboxMessage
from bot.db.session import Database
from bot.server import Server
from bot.services import delivery
from bot.testing.fake_wecom import FakeWeCom, WeComChat, serving, settle
from bot.testing.seed import seed_bound_staff
from tests.conftest import TZ, import_example_roster


async def seed(db: Database, clock: SettableClock, count: int) -> list[int]:
    return await seed_bound_staff(db, clock.now(), count, department="信息中心", prefix="K", channel="wecom")


async def queue(db: Database, clock: SettableClock, staff_ids: list[int], text: str, priority: Priority) -> None:
    async with db.transaction() as s:
        for staff_id in staff_ids:
            await send_to_staff(s, clock.now(), staff_id, Reply(text), priority, "test")


def wecom_channel(server: Server) -> WeComChannel:
    channel = server.app.channels["wecom"]
    assert isinstance(channel, WeComChannel)
    return channel


async def rows(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as s:
        return list((await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def tick(server: Server, clock: SettableClock, to: datetime | None = None, **delta: float) -> None:
    """Move the clock and let the bot do what is due then."""
    if to is not None:
        clock.set(to)
    else:
        clock.advance(**delta)
    server.app.dispatcher.wake()
    await settle(server.app)


# --- frequency blocks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "tries"),
    [
        # WeCom's answer does not say how long a block lasts: the channel waits a minute, and if the first call
        # after that is refused too, the rest of the hour, then the rest of the day (each with 5 seconds to spare).
        ("minute", [timedelta(seconds=65)]),
        ("hour", [timedelta(seconds=65), timedelta(hours=1, seconds=5)]),
        ("day", [timedelta(seconds=65), timedelta(hours=1, seconds=5), None]),
    ],
)
async def test_a_frequency_block_is_waited_out_with_every_row_kept(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock, kind: str, tries: list[timedelta | None]
) -> None:
    ids = await seed(db, clock, 20)
    start = clock.now()
    fake.block(kind)
    await queue(db, clock, ids, "关于开展保密自查的通知", Priority.BROADCAST)
    await tick(server, clock)
    for wait in tries:
        assert {row.status for row in await rows(db)} == {"pending"}
        refused = len(fake.calls("message/send"))
        # Nothing is tried while the channel waits.
        await tick(server, clock, seconds=30)
        assert len(fake.calls("message/send")) == refused
        midnight = datetime.combine(start.astimezone(TZ).date() + timedelta(days=1), datetime.min.time(), TZ)
        # At midnight the :00 rule holds broadcasts back another minute.
        await tick(server, clock, to=start + wait if wait else midnight + timedelta(minutes=2))
    sent = await rows(db)
    assert {row.status for row in sent} == {"sent"} and {row.attempts for row in sent} == {1}
    assert sum(len(fake.messages(f"u{i:03}")) for i in range(1, 21)) == 20
    # Each row was refused at most once a try (those in flight together when the block began, then the first
    # calls after each pause), not again and again.
    refusals = Counter(call.body["touser"] for call in fake.calls("message/send") if call.errcode == 45009)
    assert refusals and max(refusals.values()) <= len(tries)


async def test_blocked_at_the_daily_total_waits_for_the_next_day_at_once(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    ids = await seed(db, clock, 1)
    channel = wecom_channel(server)
    channel.daily.sent = channel.daily.limit
    fake.fail_next("message/send", 45009)
    await queue(db, clock, ids, "泄密事件警报", Priority.ALERT)
    await tick(server, clock)
    [row] = await rows(db)
    midnight = datetime.combine(clock.now().astimezone(TZ).date() + timedelta(days=1), datetime.min.time(), TZ)
    assert row.status == "pending" and row.not_before is not None and row.not_before >= midnight


# --- setup errors ----------------------------------------------------------------------------------------------
async def test_an_untrusted_server_ip_keeps_rows_pending_and_the_log_names_it(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await seed(db, clock, 2)
    fake.trusted_ips = {"203.0.113.7"}  # WeCom's 企业可信IP: not this server
    with caplog.at_level(logging.ERROR, logger="baomi.wecom"):
        await queue(db, clock, ids, "提醒", Priority.ALERT)
        await tick(server, clock)
        for _ in range(3):  # hours pass before the operator adds the address
            await tick(server, clock, minutes=60)
    assert {(row.status, row.attempts) for row in await rows(db)} == {("pending", 0)}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("60020" in e and "from ip: 127.0.0.1" in e for e in errors)
    assert len(errors) <= 4  # once for each try, not once for every row
    fake.trusted_ips = None  # the operator added it
    await tick(server, clock, seconds=SETUP_PAUSE.total_seconds())
    assert [row.status for row in await rows(db)] == ["sent", "sent"]
    assert [m.text for m in fake.messages("u001")] == ["提醒"]


async def test_a_missing_permission_is_waited_out_not_failed(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    ids = await seed(db, clock, 1)
    for _ in range(10):
        fake.fail_next("message/send", 48002)  # more than the outbox's attempts
    await queue(db, clock, ids, "提醒", Priority.ALERT)
    for _ in range(11):
        await tick(server, clock, seconds=SETUP_PAUSE.total_seconds())
    [row] = await rows(db)
    assert (row.status, row.attempts) == ("sent", 1)


# --- members WeCom does not deliver to -------------------------------------------------------------------------
async def test_a_member_without_a_licence_is_logged_and_unreachable(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await seed(db, clock, 2)
    fake.unlicensed.add("u002")
    with caplog.at_level(logging.WARNING, logger="baomi.wecom"):
        await queue(db, clock, ids, "通知", Priority.BROADCAST)
        await tick(server, clock)
    assert Counter(row.status for row in await rows(db)) == {"sent": 1, "unreachable": 1}
    assert fake.messages("u002") == []
    assert any("unlicenseduser" in r.getMessage() for r in caplog.records)
    async with db.sessions() as s:
        gone = (await s.scalars(select(Binding.chat_id).where(Binding.unreachable_at.is_not(None)))).all()
    assert gone == ["u002"]


# --- the application's daily total -----------------------------------------------------------------------------
async def test_routine_messages_stop_short_of_the_daily_total_and_the_officers_are_told(
    fake: FakeWeCom, db_url: str, db: Database, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    # An enterprise of one account may send 200 person-messages a day; the roster's officer is one of them.
    fake.account_limit = 1
    await import_example_roster(db, clock, {"E001": "WangJianGuo"})
    ids = await seed(db, clock, 10)
    settings = Settings(database_url=db_url, timezone=TZ, wecom=replace(fake.settings(), account_limit=1))
    async with serving(settings, clock, fake) as server:
        with caplog.at_level(logging.WARNING, logger="baomi.wecom"):
            # 10 people, 19 notices each (under the 25 a minute a member may get): 190 person-messages.
            for i in range(19):
                await queue(db, clock, ids, f"第 {i + 1} 号通知", Priority.BROADCAST)
            await tick(server, clock)
            assert Counter(row.status for row in await rows(db)) == {"sent": 180, "pending": 10}
            # What is left of the day's 200 is kept for answers and alerts.
            officer = WeComChat(fake, server.app, "wangjianguo")
            assert (await officer.send("/cancel")).text == officer.t("core/nothing_to_cancel")
            await queue(db, clock, ids[:1], "泄密事件警报", Priority.ALERT)
            await tick(server, clock)
            assert fake.messages("u001")[-1].text == "泄密事件警报"
        held = [r.getMessage() for r in caplog.records if "daily total" in r.getMessage()]
        assert len(held) == 1 and "2026-03-03 09:00" in held[0]
        assert not [call for call in fake.calls("message/send") if call.errcode]  # WeCom never had to refuse one

        # The next working morning, the rest goes out.
        await tick(server, clock, to=datetime(2026, 3, 3, 9, 1, tzinfo=TZ))
        assert {row.status for row in await rows(db)} == {"sent"}
        assert sum(len(fake.messages(f"u{i:03}")) for i in range(1, 11)) == 190 + 1

        async with db.sessions() as s:
            recorded = await delivery.held_back_since(s, clock.now() - timedelta(days=7))
            entries = (await s.scalars(select(AuditLog).where(AuditLog.action == delivery.HELD_BACK))).all()
        assert [(h.channel, h.day, h.sent, h.limit) for h in recorded] == [("wecom", date(2026, 3, 2), 180, 200)]
        assert len(entries) == 1

        # The next Monday's digest tells the officers.
        digest = next(s for s in server.app.jobs.sweeps if s.name == "digest")
        clock.set(datetime(2026, 3, 9, 9, 5, tzinfo=TZ))
        assert (await server.app.jobs.run_all(sweeps=[digest]))["digest"] == 2  # both officers; E001 in WeCom
        await tick(server, clock)
        said = "\n".join(m.text for m in fake.messages("wangjianguo"))
        without = officer.t("dashboard/digest", **digest_context(recorded, []))
        with_held = officer.t("dashboard/digest", **digest_context(recorded, recorded))
        (line,) = set(with_held.splitlines()) - set(without.splitlines()) - {""}
        assert line in said


def digest_context(held_days: list[delivery.HeldBack], held: list[delivery.HeldBack]) -> dict[str, object]:
    """The digest's template context with nothing in it but the days held back."""
    return {
        "week": "2026-W11",
        "day": date(2026, 3, 9),
        "departments": [],
        "gaps": [],
        "labels": {},
        "cases": [],
        "countdowns": [],
        "deadlines": [],
        "reviews": "",
        "held": held,
        "office": "",
    }


async def test_a_restart_counts_the_day_so_far(
    fake: FakeWeCom, db_url: str, db: Database, clock: SettableClock
) -> None:
    ids = await seed(db, clock, 3)
    settings = Settings(database_url=db_url, timezone=TZ, wecom=fake.settings())
    async with serving(settings, clock, fake) as server:
        await queue(db, clock, ids, "通知", Priority.BROADCAST)
        await queue(db, clock, ids[:1], "再通知", Priority.ALERT)
        await tick(server, clock)
        assert len(fake.calls("message/send")) == 4
    async with db.sessions() as s:
        saved = await s.scalar(select(InstallationValue.value).where(InstallationValue.key == SENT_TODAY))
    assert saved == "2026-03-02 4"  # kept at stop (and every minute of sending): no need to recount the day
    clock.advance(hours=3)
    async with serving(settings, clock, fake) as server:
        await queue(db, clock, ids[:1], "三小时后", Priority.ALERT)
        await tick(server, clock)
    async with serving(settings, clock, fake) as server:
        assert wecom_channel(server).daily.sent == 5
    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=TZ))  # the next day in Beijing
    async with serving(settings, clock, fake) as server:
        assert wecom_channel(server).daily.sent == 0
