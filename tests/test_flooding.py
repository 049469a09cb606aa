"""Flooding: a per-sender intake limit (the excess dropped with one notice), round-robin across people in the
engine, and a lockout for strangers guessing invitation codes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import bot.core.intake
from bot.clock import SettableClock
from bot.core.intake import LIMIT as INTAKE_LIMIT
from bot.core.intake import WINDOW as INTAKE_WINDOW
from bot.db.models import AuditLog, Binding, InboxEvent
from bot.engine import Engine, round_robin
from bot.services.invitations import LOCKOUT, WRONG_CODES, issue_for
from tests.fakes.local import LocalBot


@pytest.fixture(autouse=True)
def real_intake_limit(generous_intake: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.core.intake, "LIMIT", INTAKE_LIMIT)  # the product's, imported before the tests lifted it


async def test_a_flood_is_cut_at_the_limit_with_one_notice_and_others_are_answered_first(
    bot: LocalBot, clock: SettableClock
) -> None:
    flooder = await bot.bind("E102")
    other = await bot.bind("E202")
    before = len(flooder.bot_messages)
    async with bot.app.db.sessions() as s:
        before_rows = await s.scalar(select(func.count()).select_from(InboxEvent))
    for _ in range(INTAKE_LIMIT + 30):
        await bot.channel.type(flooder.user, "/help")
    await bot.channel.type(other.user, "/help")
    engine: Engine = bot.app.engine
    taken = []
    handle = engine.handle

    async def spy(session, inbound, preloaded=None):  # type: ignore[no-untyped-def]
        taken.append(inbound.user_id)
        await handle(session, inbound, preloaded)

    engine.handle = spy  # type: ignore[method-assign]
    await bot.settle()
    assert taken.index(other.user) <= 1  # the other's step came in the first turn, not after the backlog
    said = [m.text for m in flooder.bot_messages[before:]]
    assert said.count(flooder.t("core/too_fast")) == 1
    # The limit's worth of answers (the /start that bound them counts too) and the one notice; nothing queued.
    assert len(said) == (INTAKE_LIMIT - 1) + 1
    assert said[-1] == flooder.t("core/too_fast")  # the excess never reached the engine: the notice came last
    assert other.last.text.split("，", 1)[1] == said[-2].split("，", 1)[1]  # the other had /help answered too
    async with bot.app.db.sessions() as s:
        written = await s.scalar(select(func.count()).select_from(InboxEvent))
    assert written == before_rows + INTAKE_LIMIT + 1  # what was dropped was never written: 19 /help, 1 notice, 1 other
    clock.advance(seconds=INTAKE_WINDOW.total_seconds())
    await flooder.send("/help")  # within the limit again: answered, no notice
    assert flooder.last.text != flooder.t("core/too_fast")


def test_round_robin_takes_each_senders_rows_in_turns() -> None:
    rows = [InboxEvent(id=i, channel="t", channel_user_id=u) for i, u in enumerate("aaaaba", start=1)]
    assert [(r.channel_user_id, r.id) for r in round_robin(rows)] == [
        ("a", 1),
        ("b", 5),
        ("a", 2),
        ("a", 3),
        ("a", 4),
        ("a", 6),
    ]


async def test_a_stranger_guessing_codes_is_locked_out_and_audited(bot: LocalBot, clock: SettableClock) -> None:
    guesser = bot.chat()
    for n in range(WRONG_CODES):
        assert (await guesser.send(f"/start WRONG{n:05}")).text == guesser.t("core/code_unknown")
    assert (await guesser.send("/start WRONG99999")).text == guesser.t("core/code_locked")
    async with bot.app.db.transaction() as s:
        code = (await issue_for(s, await bot.staff_id("E102"), clock.now(), 14)).code
    # Even the right code waits out the lockout.
    assert (await guesser.send(f"/start {code}")).text == guesser.t("core/code_locked")
    async with bot.app.db.sessions() as s:
        entries = (await s.scalars(select(AuditLog).where(AuditLog.action == "invitation.lockout"))).all()
        assert [e.subject for e in entries] == [f"local:{guesser.user}"]
        assert await s.scalar(select(Binding).where(Binding.channel_user_id == guesser.user)) is None
    clock.advance(seconds=LOCKOUT.total_seconds())
    await guesser.send(f"/start {code}")
    async with bot.app.db.sessions() as s:
        assert await s.scalar(select(Binding).where(Binding.channel_user_id == guesser.user)) is not None
