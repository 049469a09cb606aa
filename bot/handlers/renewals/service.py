"""Who still owes this cycle's renewals (the yearly pledge, the quiz), for everyone at once: one query with a
few correlated lookups per person, so the daily sweep stays fast at a hundred thousand staff."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.db.models import Binding, SentLog, Staff
from bot.db.models_pledge import PledgeRecord
from bot.db.models_quiz import QuizAttempt
from bot.domain.schedule import due_date
from bot.domain.workdays import WorkCalendar
from bot.handlers.pledges.rules import ANNUAL_COVER, Catalog, Outcome, PledgeState, cycle_last_day
from bot.handlers.pledges.service import after_launch_grace, annual_due
from bot.handlers.renewals.rules import Deadlines, Item
from bot.services.sentlog import not_claimed, staff_subject

DUTY = "renewal"


@dataclass(frozen=True)
class Unclaimed:
    """The sweep's steps of the day: the main one ("open" before the deadline, the week's reminder after) and
    the notice of a material change of the pledge."""

    period: str
    step: str
    resign_step: str


@dataclass(frozen=True)
class Owing:
    staff_id: int
    name: str
    locale: str
    department_id: int
    is_head: bool
    pledge: PledgeState
    quiz_passed: bool

    def items(self) -> tuple[Item, ...]:
        """What is still to do; a declined pledge is the office's to talk about, still owed."""
        out = []
        if self.pledge is not PledgeState.SIGNED:
            out.append(Item.PLEDGE)
        if not self.quiz_passed:
            out.append(Item.QUIZ)
        return tuple(out)


def deadlines(
    policy: Policy,
    catalog: Catalog,
    cycle: int,
    day: date,
    state: PledgeState,
    calendar: WorkCalendar,
    launch: date | None,
) -> Deadlines:
    """The pledge's and the quiz's deadlines, both after the launch grace (`launch`: bot/services/launch.py)."""
    quiz = after_launch_grace(policy, launch, date(day.year, 1, 1) + timedelta(days=policy.quiz_due_days))
    return Deadlines(annual_due(policy, catalog, cycle, day, state, calendar, launch), due_date(quiz, calendar))


def _valid_signature(cycle: int, judged_on: date, catalog: Catalog) -> Exists:
    """A signature of the cycle whose text has not been superseded by a material change in force."""
    kinds = []
    for kind in ANNUAL_COVER:
        material = [v.number for v in catalog.of(kind) if v.material and v.effective <= judged_on]
        kinds.append(and_(PledgeRecord.kind == kind.value, PledgeRecord.version >= max(material, default=1)))
    return exists().where(
        PledgeRecord.staff_id == Staff.id,
        PledgeRecord.cycle == cycle,
        PledgeRecord.outcome == Outcome.SIGNED.value,
        or_(*kinds),
    )


async def owing(
    session: AsyncSession,
    cycle: int,
    day: date,
    policy: Policy,
    catalog: Catalog,
    *,
    everyone: bool = False,
    only: Collection[int] | None = None,
    departments: Collection[int] | None = None,
    people: tuple[int, int] | None = None,
    unclaimed: Unclaimed | None = None,
) -> list[Owing]:
    """Active people reachable by the bot who have not both signed the pledge of `cycle` and passed the quiz of
    the year (with `everyone`, those who have too); of these people, departments or staff ids first..last only,
    when given; with
    `unclaimed`, only those the sweep may still have something to send (so that an ordinary day, when everyone
    has had this week's reminder, reads next to nothing)."""
    judged_on = min(day, cycle_last_day(cycle, policy.pledge_cycle_start_month))
    signed = _valid_signature(cycle, judged_on, catalog)
    latest = (
        select(PledgeRecord.outcome)
        .where(
            PledgeRecord.staff_id == Staff.id,
            PledgeRecord.cycle == cycle,
            PledgeRecord.kind.in_([k.value for k in ANNUAL_COVER]),
        )
        .order_by(PledgeRecord.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    passed = exists().where(
        QuizAttempt.staff_id == Staff.id,
        QuizAttempt.cycle == day.year,
        QuizAttempt.status == "finished",
        QuizAttempt.passed.is_(True),
        or_(QuizAttempt.review.is_(None), QuizAttempt.review == "accepted"),
    )
    bound = exists().where(Binding.staff_id == Staff.id, Binding.unreachable_at.is_(None))
    query = select(
        Staff.id, Staff.name, Staff.locale, Staff.department_id, Staff.is_head, signed, latest, passed
    ).where(Staff.active.is_(True), bound)
    if not everyone:
        query = query.where(~and_(signed, passed))
    if only is not None:
        query = query.where(Staff.id.in_(list(only)))
    if departments is not None:
        query = query.where(Staff.department_id.in_(list(departments)))
    if people is not None:
        query = query.where(Staff.id.between(*people))
    if unclaimed is not None:
        subject = staff_subject(Staff.id)
        signed_earlier = exists().where(
            PledgeRecord.staff_id == Staff.id,
            PledgeRecord.cycle == cycle,
            PledgeRecord.outcome == Outcome.SIGNED.value,
            PledgeRecord.kind.in_([k.value for k in ANNUAL_COVER]),
        )
        query = query.where(
            or_(
                not_claimed(DUTY, unclaimed.period, unclaimed.step, subject),
                and_(~signed, signed_earlier, not_claimed(DUTY, unclaimed.period, unclaimed.resign_step, subject)),
            )
        )
    out = []
    for staff_id, name, locale, dept, is_head, has_signed, last, has_passed in (await session.execute(query)).all():
        if last == Outcome.DECLINED.value:
            state = PledgeState.DECLINED
        elif has_signed:
            state = PledgeState.SIGNED
        elif last == Outcome.SIGNED.value:
            state = PledgeState.RESIGN
        else:
            state = PledgeState.PENDING
        if state is PledgeState.SIGNED and has_passed and not everyone:
            continue
        out.append(Owing(staff_id, name, locale, dept, bool(is_head), state, bool(has_passed)))
    return out


async def snoozes(
    session: AsyncSession, period: str, people: tuple[int, int] | None = None
) -> dict[int, list[tuple[int, datetime]]]:
    """Who put off which weekly reminder, when: staff id -> [(week, pressed at)]; of staff ids first..last only,
    when given (each looked up by its subject: the sent-log holds a claim of the period for nearly everyone)."""
    query = select(SentLog.subject, SentLog.step, SentLog.created_at).where(
        SentLog.duty == DUTY, SentLog.period == period, SentLog.step.like("snooze-w%")
    )
    if people is not None:
        query = query.where(SentLog.subject.in_(select(staff_subject(Staff.id)).where(Staff.id.between(*people))))
    out: dict[int, list[tuple[int, datetime]]] = {}
    for subject, step, at in (await session.execute(query)).all():
        out.setdefault(int(subject.removeprefix("staff:")), []).append((int(step.removeprefix("snooze-w")), at))
    return out


async def one(session: AsyncSession, staff_id: int, cycle: int, day: date, policy: Policy, catalog: Catalog) -> Owing:
    """Where one person stands (for the put-off button)."""
    rows = await owing(session, cycle, day, policy, catalog, everyone=True, only=[staff_id])
    return rows[0] if rows else Owing(staff_id, "", "zh", 0, False, PledgeState.SIGNED, True)


@dataclass(frozen=True)
class Head:
    staff_id: int
    department_id: int
    locale: str


async def heads(session: AsyncSession, period: str, step: str, people: tuple[int, int] | None = None) -> list[Head]:
    """Active heads who can be reached by the bot and have not had this step yet; of staff ids first..last only,
    when given."""
    bound = exists().where(Binding.staff_id == Staff.id, Binding.unreachable_at.is_(None))
    query = select(Staff.id, Staff.department_id, Staff.locale).where(
        Staff.is_head.is_(True),
        Staff.active.is_(True),
        bound,
        not_claimed(DUTY, period, step, staff_subject(Staff.id)),
    )
    if people is not None:
        query = query.where(Staff.id.between(*people))
    return [Head(*row) for row in (await session.execute(query.order_by(Staff.id))).all()]
