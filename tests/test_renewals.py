"""Renewals end to end: when the cycle opens everyone is asked for the pledge and the quiz with buttons that start
them; after the deadline a weekly reminder (with a once-only 3-day put-off that does not move the schedule) and
the head's weekly list."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.db.models import Conversation, Staff
from bot.db.models_quiz import QuizAttempt
from tests.conftest import TZ
from tests.fakes.local import Chat, LocalBot, Message

DUE = date(2026, 3, 2)  # 1 January + 60 days, for both the pledge and the quiz
BOTH = [("pledge", DUE), ("quiz", DUE)]


async def tick(bot: LocalBot, clock: SettableClock, day: date, hour: int = 10) -> int:
    """The sweep at `hour` on `day`; how many renewal messages it queued (all delivered on return)."""
    clock.set(datetime.combine(day, time(hour), TZ))
    sent = (await bot.app.jobs.run_all())["renewals"]
    await bot.settle()
    return sent


async def press_toast(chat: Chat, label: str, message: Message) -> str:
    press = await chat.tap(dict(chat.buttons(message))[label], message)
    await chat.settle()
    answer = chat.answer(press)
    assert answer is not None
    return answer


def texts_of(chat: Chat, since: int) -> list[str]:
    return [m["text"] for m in chat.bot_messages[since:]]


async def test_open_then_weekly_with_a_put_off_and_the_heads_list(bot: LocalBot, clock: SettableClock) -> None:
    staff = await bot.bind("E102")
    head = await bot.bind("E101")
    n_staff, n_head = len(staff.bot_messages), len(head.bot_messages)

    # Monday 2 March, the deadline itself: asked once, with buttons that start each duty.
    assert await tick(bot, clock, DUE) == 2
    opened = staff.t("renewal/open", cycle=2026, items=BOTH, resign=False)
    assert texts_of(staff, n_staff) == [opened]
    assert staff.labels() == [staff.t("renewal/btn_pledge"), staff.t("renewal/btn_quiz")]
    assert await tick(bot, clock, DUE, hour=15) == 0  # once a day, and already asked
    await staff.press(staff.t("renewal/btn_quiz"))
    async with bot.app.db.sessions() as s:
        conv = await s.get(Conversation, await staff_id(bot.app, "E102"))
    assert conv is not None and conv.flow == "quiz"
    await staff.send("/cancel")

    # Tuesday 3 March: overdue. The person's weekly reminder, the head's own, and the head's list.
    n_staff, n_head = len(staff.bot_messages), len(head.bot_messages)
    assert await tick(bot, clock, date(2026, 3, 3)) == 3
    overdue = staff.t("renewal/overdue", cycle=2026, items=BOTH, days=3)
    assert texts_of(staff, n_staff) == [overdue]
    reminder = staff.last
    team = head.t(
        "renewal/team",
        cycle=2026,
        rows=[{"name": "刘洋", "items": ["pledge", "quiz"]}, {"name": "陈静", "items": ["pledge", "quiz"]}],
        more=0,
        total=2,
    )
    assert "\n• 刘洋：承诺书、答卷\n• 陈静：承诺书、答卷\n请督促" in team  # one person a line
    # The head's own reminder and the list come as one 今日待办, with the reminder's buttons.
    own = head.t("renewal/overdue", cycle=2026, items=BOTH, days=3)
    assert texts_of(head, n_head) == [head.t("core/today", items=[own, team], count=2)]
    assert head.t("renewal/btn_pledge") in head.labels(head.last)
    assert await tick(bot, clock, date(2026, 3, 4)) == 0  # nothing mid-week

    # Put off once on Wednesday: again on the first working day from Saturday 7 March, i.e. Monday 9 March.
    put_off = staff.t("renewal/btn_snooze", days=3)
    assert await press_toast(staff, put_off, reminder) == staff.t("renewal/snoozed", until=date(2026, 3, 7))
    assert await press_toast(staff, put_off, reminder) == staff.t("renewal/snooze_once")
    n_staff = len(staff.bot_messages)
    assert await tick(bot, clock, date(2026, 3, 5)) == 0
    assert await tick(bot, clock, date(2026, 3, 9)) == 1
    assert texts_of(staff, n_staff) == [staff.t("renewal/again", cycle=2026, items=BOTH)]
    assert put_off not in staff.labels()  # the put-off reminder cannot be put off again

    # The head puts off on Monday 9 March: Thursday 12 March is past the next weekly reminder, so nothing extra.
    head_reminder = next(m for m in reversed(head.bot_messages) if put_off in head.labels(m))
    assert await press_toast(head, put_off, head_reminder) == head.t("renewal/snoozed", until=date(2026, 3, 12))

    # Tuesday 10 March: the weekly schedule did not move — both reminded, the head's list again.
    n_staff, n_head = len(staff.bot_messages), len(head.bot_messages)
    assert await tick(bot, clock, date(2026, 3, 10)) == 3
    assert texts_of(staff, n_staff) == [overdue]
    assert len(texts_of(head, n_head)) == 1  # one 今日待办
    assert await tick(bot, clock, date(2026, 3, 12)) == 0
    assert await tick(bot, clock, date(2026, 3, 17)) == 3


async def test_the_put_off_button_of_an_earlier_week_is_stale(bot: LocalBot, clock: SettableClock) -> None:
    staff = await bot.bind("E102")
    await tick(bot, clock, date(2026, 3, 3))
    first_week = staff.last
    await tick(bot, clock, date(2026, 3, 10))
    put_off = staff.t("renewal/btn_snooze", days=3)
    assert await press_toast(staff, put_off, first_week) == staff.t("core/stale_button")


async def staff_id(app: BaomiApp, employee_id: str) -> int:
    async with app.db.sessions() as s:
        found = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
    assert found is not None
    return found


async def test_who_signed_is_asked_only_for_the_quiz_and_who_did_both_for_nothing(
    bot: LocalBot, clock: SettableClock
) -> None:
    signer = await bot.bind("E003")  # classified newcomer: asked for the onboarding pledge at once
    shown = [(await signer.send("/pledge"))["text"]]
    word = signer.t("pledge/word", key="next")
    while word in signer.labels():
        shown.append((await signer.press(word))["text"])
    await signer.press(signer.t("pledge/word", key="agree"))
    await signer.send("张伟")  # the onboarding pledge covers the year's
    n = len(signer.bot_messages)
    assert await tick(bot, clock, DUE) == 1
    assert texts_of(signer, n) == [signer.t("renewal/open", cycle=2026, items=[("quiz", DUE)], resign=False)]
    assert signer.labels() == [signer.t("renewal/btn_quiz")]
    # Passed meanwhile (recorded as a counting paper): nothing more, ever.
    async with bot.app.db.transaction() as s:
        sid = await staff_id(bot.app, "E003")
        s.add(
            QuizAttempt(
                staff_id=sid,
                cycle=2026,
                paper=[],
                status="finished",
                started_at=clock.now(),
                deadline_at=clock.now(),
                finished_at=clock.now(),
                correct=20,
                score=100,
                passed=True,
            )
        )
    n = len(signer.bot_messages)
    for day in (date(2026, 3, 3), date(2026, 3, 10)):
        await tick(bot, clock, day)
    assert len(signer.bot_messages) == n
