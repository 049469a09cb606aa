"""What each person owes, in one place: the facts of each person's records and the judgement of those facts on a
day, for /team, /dashboard, /export, the weekly digest, the compliance workbook and the web console alike.

Facts (`facts`) are read from the records: the latest yearly pledge record, the latest year with a passing paper
that counts and its best score, the latest education, the latest self-check year, a departure not completed,
whether the person is bound. For today they are kept in `staff_standing` (bot/db/models_standing.py): triggers
mark a person whose records change, and `settle` copies their facts again before the table is read, so whoever
writes a record (a flow, a sweep, the command line, a roster import) needs to do nothing. A past day (the
compliance export's `--at`) reads the same facts from the records made before it, the slow way.

The judgement (`Judged`) turns facts into duties done and owed as SQL expressions, so the per-unit figures are
one GROUP BY over one indexed table and a person's standing is a row of the same expressions: a day, a half-year
or a cycle rolling over changes the judgement, never the facts. Other capabilities that change what is owed
(a grace period, a new duty) change it here."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    and_,
    case,
    delete,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Policy
from bot.db.models import Binding, Department, Staff
from bot.db.models_duties import EducationRecord, SelfCheck
from bot.db.models_pledge import Departure, PledgeRecord
from bot.db.models_quiz import QuizAttempt
from bot.db.models_standing import StaffStanding, StandingDirty, StandingVersion
from bot.domain.levels import Level
from bot.domain.schedule import half_year
from bot.handlers.compliance.rules import DUTIES, Duty, PersonCompliance, Tally
from bot.handlers.duties.service import EDUCATED_LEVELS
from bot.handlers.pledges.rules import ANNUAL_COVER, Catalog, Outcome, cycle_last_day, cycle_of

FACT_COLUMNS = (
    "staff_id",
    "department_id",
    "level",
    "active",
    "bound",
    "pledge_cycle",
    "pledge_kind",
    "pledge_version",
    "pledge_outcome",
    "quiz_year",
    "quiz_score",
    "educated_on",
    "self_check_year",
    "departure_approved_on",
    "declassification_ends_on",
    "departing",
)
EVERYONE = true()
SETTLED = "baomi.standing_settled"  # session.info: this transaction has changed standings
FIGURES_KEPT: dict[Any, dict[int, UnitTallies]] = {}  # today's figures, by database, token, unit and judgement
FIGURES_KEPT_MAX = 64
SETTLE_CHUNK = 5000  # ids per statement, within every database's limit on bound parameters


def facts(until: datetime | None = None) -> Select[Any]:
    """Every person's facts (FACT_COLUMNS, in that order) from their records made before `until` (all when None)."""

    def before(column: Any) -> tuple[ColumnElement[bool], ...]:
        return () if until is None else (column < until,)

    pledge_id = (
        select(func.max(PledgeRecord.id))
        .where(
            PledgeRecord.staff_id == Staff.id,
            PledgeRecord.kind.in_([k.value for k in ANNUAL_COVER]),
            *before(PledgeRecord.at),
        )
        .scalar_subquery()
    )
    latest = aliased(PledgeRecord)

    def counted(attempt: Any) -> tuple[ColumnElement[bool], ...]:
        return (
            attempt.staff_id == Staff.id,
            attempt.status == "finished",
            attempt.passed.is_(True),
            or_(attempt.review.is_(None), attempt.review == "accepted"),
            *before(attempt.finished_at),
        )

    year_attempt = aliased(QuizAttempt)
    quiz_year = select(func.max(year_attempt.cycle)).where(*counted(year_attempt)).scalar_subquery()
    quiz_score = (
        select(func.max(QuizAttempt.score)).where(*counted(QuizAttempt), QuizAttempt.cycle == quiz_year)
    ).scalar_subquery()
    educated_on = (
        select(func.max(EducationRecord.held_on))
        .where(EducationRecord.staff_id == Staff.id, *before(EducationRecord.created_at))
        .scalar_subquery()
    )
    self_check_year = (
        select(func.max(SelfCheck.year))
        .where(SelfCheck.staff_id == Staff.id, *before(SelfCheck.completed_at))
        .scalar_subquery()
    )
    departure_id = (
        select(func.max(Departure.id))
        .where(
            Departure.staff_id == Staff.id,
            Departure.completed_at.is_(None),
            Departure.cancelled_at.is_(None),
            *before(Departure.created_at),
        )
        .scalar_subquery()
    )
    departure = aliased(Departure)
    bound = exists().where(Binding.staff_id == Staff.id, Binding.unreachable_at.is_(None))
    return (
        select(
            Staff.id.label("staff_id"),
            Staff.department_id,
            Staff.level,
            Staff.active,
            bound.label("bound"),
            latest.cycle.label("pledge_cycle"),
            latest.kind.label("pledge_kind"),
            latest.version.label("pledge_version"),
            latest.outcome.label("pledge_outcome"),
            quiz_year.label("quiz_year"),
            quiz_score.label("quiz_score"),
            educated_on.label("educated_on"),
            self_check_year.label("self_check_year"),
            departure.approved_on.label("departure_approved_on"),
            departure.ends_on.label("declassification_ends_on"),
            departure.id.is_not(None).label("departing"),
        )
        .select_from(Staff)
        .outerjoin(latest, latest.id == pledge_id)
        .outerjoin(departure, departure.id == departure_id)
    )


async def settle(session: AsyncSession) -> int:
    """Copy again the facts of everyone whose records changed since (marked by the triggers); returns how many.
    The marks are taken first, so a record written meanwhile leaves its mark for the next time."""
    ids = sorted((await session.scalars(delete(StandingDirty).returning(StandingDirty.staff_id))).all())
    if ids:
        session.info[SETTLED] = True
        drawn = await session.execute(update(StandingVersion).values(generation=secrets.randbits(62)))
        if not drawn.rowcount:  # type: ignore[attr-defined]  # the row emptied away (a test's clean slate)
            session.add(StandingVersion(id=1, generation=secrets.randbits(62)))
    table = cast(Table, StaffStanding.__table__)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for start in range(0, len(ids), SETTLE_CHUNK):
        chunk = ids[start : start + SETTLE_CHUNK]
        # Upserted, not deleted and inserted: two transactions settling the same person both succeed.
        copy = insert(table).from_select(list(FACT_COLUMNS), facts().where(Staff.id.in_(chunk)))
        copy = copy.on_conflict_do_update(
            index_elements=["staff_id"], set_={name: copy.excluded[name] for name in FACT_COLUMNS[1:]}
        )
        await session.execute(copy)
        gone = ~exists().where(Staff.id == StaffStanding.staff_id)  # a staff row deleted outright
        await session.execute(delete(StaffStanding).where(StaffStanding.staff_id.in_(chunk), gone))
    return len(ids)


async def source(session: AsyncSession, until: datetime | None, write: bool = False) -> FromClause:
    """Where the facts are read from: for a past day, the records made before `until`; for today the kept table,
    settled first when the transaction may `write` (a flow's, a sweep's, a console request's). A read-only session
    (an export made in a thread of its own, the command line) writes nothing, which would hold SQLite's lock, or
    the marks' rows on PostgreSQL, for as long as it reads: the people marked are read from their records instead,
    beside everyone else's kept facts."""
    if until is not None:
        return facts(until).where(Staff.created_at < until).subquery("facts")
    table = cast(Table, StaffStanding.__table__)
    if write:
        await settle(session)
        return table
    if await session.scalar(select(StandingDirty.staff_id).limit(1)) is None:
        return table
    marked = select(StandingDirty.staff_id)
    kept = select(*(table.c[name] for name in FACT_COLUMNS)).where(table.c.staff_id.not_in(marked))
    return union_all(kept, facts().where(Staff.id.in_(marked))).subquery("facts")


@dataclass(frozen=True)
class Judged:
    """The duties on `day`, as SQL expressions over a source of facts `c` (the table or the subquery)."""

    pledge: ColumnElement[bool]
    pledge_declined: ColumnElement[bool]
    quiz_score: ColumnElement[Any]
    educated_on: ColumnElement[Any]
    education_owed: ColumnElement[bool]
    self_checked: ColumnElement[bool]
    self_check_owed: ColumnElement[bool]
    key: tuple[Any, ...]  # what the expressions were made of: the same key, the same expressions

    def owed(self, duty: Duty) -> ColumnElement[bool]:
        if duty is Duty.EDUCATION:
            return self.education_owed
        if duty is Duty.SELF_CHECK:
            return self.self_check_owed
        return EVERYONE  # the pledge and the quiz

    def done(self, duty: Duty) -> ColumnElement[bool]:
        """Done and owed (PersonCompliance.done is True)."""
        if duty is Duty.PLEDGE:
            return self.pledge
        if duty is Duty.QUIZ:
            return self.quiz_score.is_not(None)
        if duty is Duty.EDUCATION:
            return and_(self.education_owed, self.educated_on.is_not(None))
        return and_(self.self_check_owed, self.self_checked)

    def owing(self, duty: Duty) -> ColumnElement[bool]:
        """Owed and not done (PersonCompliance.done is False)."""
        return and_(self.owed(duty), not_(self.done(duty)))


def judged(c: Any, day: date, policy: Policy, catalog: Catalog) -> Judged:
    cycle = cycle_of(day, policy.pledge_cycle_start_month)
    judged_on = min(day, cycle_last_day(cycle, policy.pledge_cycle_start_month))
    # A signature is superseded by a materially changed version in force on the day (Catalog.superseded).
    newest = {
        kind: max((v.number for v in catalog.of(kind) if v.material and v.effective <= judged_on), default=0)
        for kind in ANNUAL_COVER
    }
    superseded = or_(
        false(), *(and_(c.pledge_kind == kind.value, c.pledge_version < n) for kind, n in newest.items() if n > 1)
    )
    current = and_(c.pledge_cycle.is_not(None), c.pledge_cycle == cycle)
    period = half_year(day)
    self_check_open = day.month >= policy.self_inspection_month
    return Judged(
        pledge=and_(current, c.pledge_outcome == Outcome.SIGNED.value, not_(superseded)),
        pledge_declined=and_(current, c.pledge_outcome == Outcome.DECLINED.value),
        quiz_score=case((c.quiz_year == day.year, c.quiz_score), else_=None),
        educated_on=case(
            (and_(c.educated_on >= period.start, c.educated_on <= min(period.end, day)), c.educated_on), else_=None
        ),
        education_owed=c.level.in_(EDUCATED_LEVELS),
        self_checked=and_(c.self_check_year.is_not(None), c.self_check_year == day.year),
        self_check_owed=c.level != Level.NONE.value if self_check_open else false(),
        key=(cycle, tuple(sorted(newest.items())), period.start, min(period.end, day), day.year, self_check_open),
    )


def flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 when the condition holds, else 0 (never NULL), for sums and for reading back as a bool."""
    return case((condition, 1), else_=0)


def people_query(source: FromClause, day: date, policy: Policy, catalog: Catalog) -> Select[Any]:
    """Active people with their standing on `day` (read with `person`); add filters, order and limits."""
    c = source.c
    j = judged(c, day, policy, catalog)
    return (
        select(
            Staff.id,
            Staff.employee_id,
            Staff.name,
            c.department_id,
            Department.name,
            c.level,
            flag(c.bound),
            flag(j.pledge),
            flag(j.pledge_declined),
            j.quiz_score,
            j.educated_on,
            flag(j.education_owed),
            flag(j.self_checked),
            flag(j.self_check_owed),
            c.departure_approved_on,
            c.declassification_ends_on,
            flag(c.departing),
        )
        .select_from(source)
        .join(Staff, Staff.id == c.staff_id)
        .join(Department, Department.id == c.department_id)
        .where(c.active.is_(True))
    )


def person(row: Sequence[Any]) -> PersonCompliance:
    (
        staff_id,
        employee_id,
        name,
        department_id,
        department,
        level,
        bound,
        pledge,
        declined,
        quiz_score,
        educated_on,
        education_owed,
        self_checked,
        self_check_owed,
        approved_on,
        ends_on,
        departing,
    ) = row
    return PersonCompliance(
        staff_id=staff_id,
        employee_id=employee_id,
        name=name,
        department_id=department_id,
        department=department,
        level=Level(level),
        bound=bool(bound),
        pledge=bool(pledge),
        pledge_declined=bool(declined),
        quiz_score=quiz_score,
        educated_on=educated_on,
        education_owed=bool(education_owed),
        self_checked=bool(self_checked),
        self_check_owed=bool(self_check_owed),
        # An approved departure starts the declassification period (第十四条), before the person has gone.
        departure_approved_on=approved_on,
        declassification_ends_on=ends_on,
        departing=bool(departing),
    )


@dataclass(frozen=True)
class UnitTallies:
    headcount: int
    tallies: dict[Duty, Tally]


async def unit_tallies(
    session: AsyncSession, source: FromClause, day: date, policy: Policy, catalog: Catalog, department_id: int | None
) -> dict[int, UnitTallies]:
    """Each unit's headcount and, per duty, how many owe it and how many have done it: one GROUP BY over the kept
    table's covering index. Today's figures are kept in this process until a standing changes (the token drawn
    by `settle`) or the judgement does (another cycle, half-year or year, a pledge's new version: another key)."""
    c = source.c
    j = judged(c, day, policy, catalog)
    sums = []
    for duty in DUTIES:
        owed = j.owed(duty)
        sums += [func.count() if owed is EVERYONE else func.sum(flag(owed)), func.sum(flag(j.done(duty)))]
    query = select(c.department_id, func.count(), *sums).where(c.active.is_(True)).group_by(c.department_id)
    if department_id is not None:
        query = query.where(c.department_id == department_id)
    key = None
    if source is StaffStanding.__table__ and not session.info.get(SETTLED):
        # Only figures of committed standings are kept: this transaction has changed none.
        generation = await session.scalar(select(StandingVersion.generation))
        key = None if generation is None else (str(session.get_bind().engine.url), generation, department_id, j.key)
        if (kept := FIGURES_KEPT.get(key)) is not None:
            return kept
    out = {}
    for dept_id, count, *figures in (await session.execute(query)).all():
        tallies = {duty: Tally(int(figures[2 * n + 1] or 0), int(figures[2 * n] or 0)) for n, duty in enumerate(DUTIES)}
        out[dept_id] = UnitTallies(int(count), tallies)
    if key is not None:
        if len(FIGURES_KEPT) >= FIGURES_KEPT_MAX:
            FIGURES_KEPT.clear()
        FIGURES_KEPT[key] = out
    return out
