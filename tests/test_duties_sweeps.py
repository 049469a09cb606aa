"""The duty calendar walked day by day with the injected clock: every reminder's day, recipient and count;
holiday shifting; the calendar fallback and overrides; exactly once across restarts; catch-up after downtime;
`jobs preview` agreeing with what `run` then queues."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from bot.app import wire
from bot.clock import SettableClock
from bot.config import Policy
from bot.db.models import Binding, OutboxMessage, SentLog, Staff
from bot.db.session import Database
from bot.domain.workdays import WorkCalendar
from bot.handlers.duties.service import record_education, record_self_check
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.service import annual_standings
from bot.jobs.runner import SweepRunner
from bot.services.calendar import set_override
from bot.services.roster import import_roster, read_roster
from bot.texts import Texts
from tests.conftest import EXAMPLE_ROSTER, TZ

DUTIES = ("education", "inventory", "selfcheck")
LAUNCHED = datetime(2025, 12, 1, 10, tzinfo=TZ)


async def seed(db: Database, clock: SettableClock) -> dict[str, int]:
    """The example roster, everyone bound on Telegram; returns staff ids by employee id. The bureau imported it
    (its launch) before the year these tests walk through."""
    async with db.transaction() as s:
        await import_roster(s, read_roster(EXAMPLE_ROSTER), LAUNCHED, TZ)
        staff = (await s.scalars(select(Staff))).all()
        for person in staff:
            s.add(
                Binding(
                    staff_id=person.id,
                    channel="telegram",
                    channel_user_id=str(person.id),
                    chat_id=str(person.id),
                    created_at=clock.now(),
                )
            )
        return {p.employee_id: p.id for p in staff}


def runner(
    db: Database, clock: SettableClock, policy: Policy | None = None, names: tuple[str, ...] = DUTIES
) -> SweepRunner:
    duty_sweeps = [s for s in wire().sweeps if s.name in names]
    # Each duty's schedule on its own: a chat's reminders of one run are not combined into one 今日待办 here.
    return SweepRunner(db, clock, policy or Policy(), Texts(TZ), TZ, duty_sweeps, on_outbox=lambda: None, combine=False)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), TZ)


async def messages_since(db: Database, after_id: int) -> list[tuple[int, str, str]]:
    """(staff id, source duty, first line) of the reminders queued after an outbox id."""
    async with db.sessions() as s:
        rows = (
            await s.execute(
                select(OutboxMessage.staff_id, OutboxMessage.source, OutboxMessage.payload)
                .where(OutboxMessage.id > after_id)
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [(r[0], (r[1] or "").split(":")[0], r[2]["text"].splitlines()[0]) for r in rows]


async def last_id(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0)


async def walk(
    db: Database,
    clock: SettableClock,
    start: date,
    end: date,
    hour: int = 10,
    policy: Policy | None = None,
    names: tuple[str, ...] = DUTIES,
) -> dict[date, list[tuple[int, str, str]]]:
    """Run the sweeps once a day at `hour`; what each day queued."""
    days: dict[date, list[tuple[int, str, str]]] = {}
    jobs = runner(db, clock, policy, names)
    day = start
    while day <= end:
        before = await last_id(db)
        clock.set(at(day, hour))
        await jobs.run_all()
        if sent := await messages_since(db, before):
            days[day] = sent
        day += timedelta(days=1)
    return days


async def test_a_whole_year(db: Database, clock: SettableClock) -> None:
    ids = await seed(db, clock)
    heads = {ids[e] for e in ("E001", "E101", "E201", "E301")}
    officers = {ids["E001"], ids["E002"]}
    days = await walk(db, clock, date(2026, 1, 1), date(2026, 12, 31), names=(*DUTIES, "renewals"))

    def on(day: date, duty: str) -> Counter[int]:
        return Counter(staff for staff, source, _ in days.get(day, []) if source == duty)

    # Education: kick-off on Monday 5 January to the heads of the four departments with core/important staff.
    assert on(date(2026, 1, 5), "education") == Counter(dict.fromkeys(heads, 1))
    # Final reminder 14 days before 30 June: Tuesday 16 June.
    assert on(date(2026, 6, 16), "education") == Counter(dict.fromkeys(heads, 1))
    # First half overdue: escalated to both officers on the first day of July; second half kicks off on
    # Monday 6 July (5 July is a Sunday).
    assert on(date(2026, 7, 1), "education") == Counter(dict.fromkeys(officers, 1))
    assert on(date(2026, 7, 6), "education") == Counter(dict.fromkeys(heads, 1))
    assert on(date(2026, 12, 17), "education") == Counter(dict.fromkeys(heads, 1))  # 31 Dec − 14 = Thu 17 Dec
    education_days = sorted(d for d in days if on(d, "education"))
    assert education_days == [
        date(2026, 1, 5),
        date(2026, 6, 16),
        date(2026, 7, 1),
        date(2026, 7, 6),
        date(2026, 12, 17),
    ]

    # Self-check: National Day runs 1–7 October 2026, so the first working day is Thursday 8 October. Every
    # person with a classified level is asked once (11 of 12), heads and officers get the start notice (5), and
    # the officers are asked for the unit's self-assessment (2); not done, they are asked again a week before the
    # month ends (24 October is a Saturday: Friday 23 October).
    selfcheck_days = sorted(d for d in days if on(d, "selfcheck"))
    assert selfcheck_days == [date(2026, 10, 8), date(2026, 10, 23)]
    assert sum(on(date(2026, 10, 8), "selfcheck").values()) == 11 + 5 + 2
    assert on(date(2026, 10, 23), "selfcheck") == Counter(dict.fromkeys(officers, 1))

    # Inventory: the deadline 20 December 2026 is a Sunday, so it is due on Friday 18 December. Heads are
    # reminded 30, 14, 7 and 1 days before (18 Nov, 4 Dec, 11 Dec, 17 Dec), then officers every working day.
    inventory_days = sorted(d for d in days if on(d, "inventory"))
    assert inventory_days[:4] == [date(2026, 11, 18), date(2026, 12, 4), date(2026, 12, 11), date(2026, 12, 17)]
    assert all(on(d, "inventory") == Counter(dict.fromkeys(heads, 1)) for d in inventory_days[:4])
    overdue = inventory_days[4:]
    assert overdue == [d for d in (date(2026, 12, 21) + timedelta(n) for n in range(11)) if d.weekday() < 5]
    assert all(on(d, "inventory") == Counter(dict.fromkeys(officers, 1)) for d in overdue)
    # Renewals (nobody signs or passes in this walk): the cycle opens on Sunday 4 January, a make-up working day
    # (New Year is 1–3 January), to all twelve. After the deadline (Monday 2 March) everyone is reminded weekly
    # from Tuesday 3 March, each week on its first working day — Wednesday 6 May (1–5 May is Labour Day),
    # Thursday 8 October (National Day) — and each of the four heads gets the list: 44 weeks × (12 + 4).
    renewal_days = sorted(d for d in days if on(d, "renewal"))
    everyone = Counter(dict.fromkeys(ids.values(), 1))
    assert renewal_days[0] == date(2026, 1, 4) and on(date(2026, 1, 4), "renewal") == everyone
    weekly = renewal_days[1:]
    assert weekly[:3] == [date(2026, 3, 3), date(2026, 3, 10), date(2026, 3, 17)]
    assert date(2026, 5, 6) in weekly and date(2026, 5, 5) not in weekly
    assert date(2026, 10, 8) in weekly and date(2026, 10, 6) not in weekly
    assert len(weekly) == 44 and weekly[-1] == date(2026, 12, 29)
    expected = everyone + Counter(heads)
    assert all(on(d, "renewal") == expected for d in weekly)
    # Nothing on a weekend or holiday, except the make-up working days.
    calendar = WorkCalendar()
    assert all(calendar.is_working_day(d) for d in days)
    assert sorted(d for d in days if d.weekday() >= 5) == [date(2026, 1, 4)]


async def test_reminders_only_in_working_hours(db: Database, clock: SettableClock) -> None:
    await seed(db, clock)
    jobs = runner(db, clock)
    clock.set(at(date(2026, 1, 5), 8))
    assert sum(await_values := (await jobs.run_all()).values()) == 0, await_values
    clock.set(at(date(2026, 1, 5), 9))
    assert (await jobs.run_all())["education"] == 4


async def test_exactly_once_across_restarts_and_catch_up_after_outage(db: Database, clock: SettableClock) -> None:
    ids = await seed(db, clock)
    # Down from Friday 2 January until Thursday 8 January: the kick-off of Monday 5 January goes out once on
    # the first tick after, not once per missed tick.
    clock.set(at(date(2026, 1, 8), 11))
    assert (await runner(db, clock).run_all())["education"] == 4
    clock.advance(minutes=1)
    assert (await runner(db, clock).run_all())["education"] == 0  # a new runner: as after a restart
    # Education recorded for everyone in 考试院 except one: the final reminder lists only that one.
    async with db.transaction() as s:
        await record_education(s, clock.now(), ids["E201"], [ids["E201"], ids["E202"]], date(2026, 1, 8), "meeting")
    clock.set(at(date(2026, 6, 16)))
    await runner(db, clock).run_all()
    async with db.sessions() as s:
        final = await s.scalar(
            select(OutboxMessage.payload)
            .where(OutboxMessage.staff_id == ids["E201"], OutboxMessage.source == "education:2026H1")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    assert final is not None and "周杰" in final["text"] and "黄丽" not in final["text"]


async def test_pointless_steps_are_skipped_after_downtime(db: Database, clock: SettableClock) -> None:
    ids = await seed(db, clock)
    # First tick with 1 day left to the inventory deadline (Friday 18 December 2026): only the 1-day step.
    clock.set(at(date(2026, 12, 17)))
    await runner(db, clock).run_all()
    async with db.sessions() as s:
        steps = (await s.scalars(select(SentLog.step).where(SentLog.duty == "inventory"))).all()
    assert set(steps) == {"d-1"}
    assert len(steps) == 4  # one per head
    assert ids  # the organisation was seeded


async def test_calendar_fallback_and_officer_override(db: Database, clock: SettableClock) -> None:
    ids = await seed(db, clock)
    # 2027 is not covered by the official data: Monday–Friday applies. 5 January 2027 is a Tuesday.
    days = await walk(db, clock, date(2027, 1, 4), date(2027, 1, 6))
    assert date(2027, 1, 5) in days
    # An officer declares Tuesday 4 July 2028's week… here: Monday 5 July 2027 a day off; kick-off moves on.
    async with db.transaction() as s:
        await set_override(s, clock.now(), ids["E001"], date(2027, 7, 5), False, "调休")
    days = await walk(db, clock, date(2027, 7, 5), date(2027, 7, 6))
    education = {d for d, msgs in days.items() if any(src == "education" for _, src, _ in msgs)}
    assert date(2027, 7, 5) not in education and date(2027, 7, 6) in education


async def test_preview_agrees_with_run(db: Database, clock: SettableClock) -> None:
    await seed(db, clock)
    jobs = runner(db, clock, names=(*DUTIES, "renewals"))
    planned = await jobs.preview(date(2026, 9, 28), date(2026, 10, 12))
    assert await last_id(db) == 0  # nothing was queued or kept
    async with db.sessions() as s:
        assert (await s.scalars(select(SentLog))).all() == []
    days = await walk(db, clock, date(2026, 9, 28), date(2026, 10, 12), hour=9, names=(*DUTIES, "renewals"))
    ran = sorted((d, staff, text) for d, msgs in days.items() for staff, _, text in msgs)
    previewed = sorted((p.day, p.staff_id, p.text.splitlines()[0]) for p in planned)
    # The half-year's education kick-off (caught up on the first day) to 4 heads; the self-check on 8 October
    # to 11 classified staff and 5 heads and officers, and the unit's self-assessment to the 2 officers; the weekly
    # renewal reminders to all 12 and the 4 heads' lists: the week of 22 September caught up on its last day,
    # Monday 28 September (the first tick), then Tuesday 29 September and, after National Day, Thursday 8 October.
    assert previewed == ran and len(ran) == 4 + 16 + 2 + 3 * (12 + 4)


async def test_self_check_done_is_not_asked(db: Database, clock: SettableClock) -> None:
    ids = await seed(db, clock)
    async with db.transaction() as s:
        await record_self_check(s, clock.now(), ids["E102"], 2026, {"c1": {"answer": "yes", "note": ""}})
    clock.set(at(date(2026, 10, 8)))
    await runner(db, clock).run_all()
    async with db.sessions() as s:
        asked = set(
            (await s.scalars(select(OutboxMessage.staff_id).where(OutboxMessage.source == "selfcheck:2026"))).all()
        )
    assert ids["E102"] not in asked and ids["E103"] not in asked and ids["E003"] in asked


async def test_renewal_deadline_in_the_spring_festival_moves_to_the_make_up_saturday(
    db: Database, clock: SettableClock
) -> None:
    ids = await seed(db, clock)
    # 1 January + 47 days is Tuesday 17 February 2026, inside the Spring Festival holiday (15–23 February): the
    # deadline moves to the working day before, Saturday 14 February (a make-up working day).
    policy = Policy(pledge_due_days=47, quiz_due_days=47)
    days = await walk(db, clock, date(2026, 2, 14), date(2026, 3, 10), policy=policy, names=("renewals",))
    # Asked on the Saturday itself (the walk starts there); the first overdue week (15–21 February) is all
    # holiday and is not sent late; then the first working day of each week: Tuesday 24 February, Monday
    # 2 March (1 March is a Sunday), Monday 9 March.
    assert sorted(days) == [date(2026, 2, 14), date(2026, 2, 24), date(2026, 3, 2), date(2026, 3, 9)]
    assert len(days[date(2026, 2, 14)]) == len(ids)
    async with db.sessions() as s:
        first = await s.scalar(
            select(OutboxMessage.payload).where(OutboxMessage.staff_id == ids["E102"]).order_by(OutboxMessage.id)
        )
    assert first is not None and "2026年2月14日" in first["text"]


async def test_an_officers_day_off_moves_the_renewal_deadline_too(db: Database, clock: SettableClock) -> None:
    ids = await seed(db, clock)
    # As above, but an officer gives Saturday 14 February off: the deadline moves on to Friday 13 February.
    async with db.transaction() as s:
        await set_override(s, clock.now(), ids["E001"], date(2026, 2, 14), False, "调休取消")
    policy = Policy(pledge_due_days=47, quiz_due_days=47)
    days = await walk(db, clock, date(2026, 2, 13), date(2026, 2, 14), policy=policy, names=("renewals",))
    assert sorted(days) == [date(2026, 2, 13)]
    async with db.sessions() as s:
        first = await s.scalar(
            select(OutboxMessage.payload).where(OutboxMessage.staff_id == ids["E102"]).order_by(OutboxMessage.id)
        )
        standing = (await annual_standings(s, [ids["E102"]], 2026, date(2026, 2, 1), policy, load_catalog()))[
            ids["E102"]
        ]
    assert first is not None and "2026年2月13日" in first["text"] and "2026年2月14日" not in first["text"]
    assert standing.due_on == date(2026, 2, 13)  # /status and /pledges show the same day


async def test_a_busy_morning_is_one_todays_to_dos_per_person_and_preview_says_so(
    db: Database, clock: SettableClock
) -> None:
    ids = await seed(db, clock)
    duty_sweeps = [s for s in wire().sweeps if s.name in (*DUTIES, "renewals")]
    jobs = SweepRunner(db, clock, Policy(), Texts(TZ), TZ, duty_sweeps, on_outbox=lambda: None)
    planned = await jobs.preview(date(2026, 10, 8), date(2026, 10, 8))
    before = await last_id(db)
    clock.set(at(date(2026, 10, 8), 9))
    await jobs.run_all()
    sent = await messages_since(db, before)
    per_person = Counter(staff for staff, _, _ in sent)
    # 8 October: the self-check asks everyone classified, the heads are told to organise it, and the week's renewal
    # reminder goes out — each person hears of it all in one message.
    assert per_person and set(per_person.values()) == {1}
    head = [text for staff, _, text in sent if staff == ids["E101"]]
    assert head == [Texts(TZ).render("core/today", "zh", items=["x"] * 5, count=5).splitlines()[0]]  # was five messages
    assert sorted((p.staff_id, p.text.splitlines()[0]) for p in planned) == sorted((s, t) for s, _, t in sent)
