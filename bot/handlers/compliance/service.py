"""Loads the compliance view (bot/domain/compliance.py) for the whole organisation or one department, with a
handful of set-based queries: one per duty, not one per person."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.db.models import Binding, Department, SentLog, Staff
from bot.db.models_duties import EducationRecord, InventoryReport, SelfCheck
from bot.db.models_leak import LeakCase, LeakReporter
from bot.db.models_pledge import Departure
from bot.db.models_quiz import QuizAttempt
from bot.db.upsert import insert_ignore_returning
from bot.domain.levels import Level
from bot.domain.schedule import due_date, half_year, inventory_period
from bot.domain.workdays import WorkCalendar
from bot.handlers.compliance.rules import DepartmentCompliance, InventoryState, PersonCompliance
from bot.handlers.duties.service import EDUCATED_LEVELS, open_item_counts
from bot.handlers.leak.rules import Status
from bot.handlers.pledges.rules import Catalog, PledgeState, cycle_of
from bot.handlers.pledges.service import annual_standings


def _only(query: Select, column: object, department_id: int | None) -> Select:
    return query if department_id is None else query.where(column == department_id)  # type: ignore[arg-type]


def _before(column: Any, until: datetime | None) -> tuple[ColumnElement[bool], ...]:
    """The condition that a record was made before `until`; none when every record counts."""
    return () if until is None else (column < until,)


def _open_cases(until: datetime | None) -> tuple[ColumnElement[bool], ...]:
    if until is None:
        return (LeakCase.status != Status.CONCLUDED.value,)
    return (LeakCase.reported_at < until, or_(LeakCase.concluded_at.is_(None), LeakCase.concluded_at >= until))


async def departments(
    session: AsyncSession,
    today: date,
    policy: Policy,
    catalog: Catalog,
    calendar: WorkCalendar,
    department_id: int | None = None,
    until: datetime | None = None,
) -> list[DepartmentCompliance]:
    """Every department with active staff or people in their declassification period (or the one given), in
    name order, judged as of `today`. With `until` (an export for a past day), only what was recorded before it
    counts: signatures, passes, education, self-checks, inventory reports, departures and open cases; the
    people are today's roster less those added since."""
    bound = exists().where(Binding.staff_id == Staff.id, Binding.unreachable_at.is_(None))
    staff = (
        await session.execute(
            _only(
                select(
                    Staff.id, Staff.employee_id, Staff.name, Staff.department_id, Department.name, Staff.level, bound
                )
                .join(Department, Department.id == Staff.department_id)
                .where(Staff.active.is_(True), *_before(Staff.created_at, until))
                .order_by(Department.name, Staff.employee_id),
                Staff.department_id,
                department_id,
            )
        )
    ).all()
    ids = [row[0] for row in staff]
    pledge_cycle = cycle_of(today, policy.pledge_cycle_start_month)
    standings = await annual_standings(session, ids, pledge_cycle, today, policy, catalog, until, calendar)

    scores = dict(
        (
            await session.execute(
                _only(
                    select(QuizAttempt.staff_id, func.max(QuizAttempt.score))
                    .join(Staff, Staff.id == QuizAttempt.staff_id)
                    .where(
                        QuizAttempt.cycle == today.year,
                        QuizAttempt.status == "finished",
                        QuizAttempt.passed.is_(True),
                        or_(QuizAttempt.review.is_(None), QuizAttempt.review == "accepted"),
                        *_before(QuizAttempt.finished_at, until),
                    )
                    .group_by(QuizAttempt.staff_id),
                    Staff.department_id,
                    department_id,
                )
            )
        ).all()
    )
    period = half_year(today)
    educated = dict(
        (
            await session.execute(
                _only(
                    select(EducationRecord.staff_id, func.max(EducationRecord.held_on))
                    .join(Staff, Staff.id == EducationRecord.staff_id)
                    .where(
                        EducationRecord.held_on >= period.start,
                        EducationRecord.held_on <= min(period.end, today),
                        *_before(EducationRecord.created_at, until),
                    )
                    .group_by(EducationRecord.staff_id),
                    Staff.department_id,
                    department_id,
                )
            )
        ).all()
    )
    checked = set(
        (
            await session.scalars(
                _only(
                    select(SelfCheck.staff_id)
                    .join(Staff, Staff.id == SelfCheck.staff_id)
                    .where(SelfCheck.year == today.year, *_before(SelfCheck.completed_at, until)),
                    Staff.department_id,
                    department_id,
                )
            )
        ).all()
    )
    departures = {
        row[0]: (row[1], row[2])
        for row in (
            await session.execute(
                _only(
                    select(Departure.staff_id, Departure.approved_on, Departure.ends_on)
                    .join(Staff, Staff.id == Departure.staff_id)
                    .where(
                        Departure.completed_at.is_(None),
                        Departure.cancelled_at.is_(None),
                        Staff.active.is_(True),
                        *_before(Departure.created_at, until),
                    ),
                    Staff.department_id,
                    department_id,
                )
            )
        ).all()
    }
    self_check_open = today.month >= policy.self_inspection_month

    people: dict[int, list[PersonCompliance]] = defaultdict(list)
    names: dict[int, str] = {}
    for staff_id, employee_id, name, dept_id, dept_name, level_value, is_bound in staff:
        level = Level(level_value)
        names[dept_id] = dept_name
        people[dept_id].append(
            PersonCompliance(
                staff_id=staff_id,
                employee_id=employee_id,
                name=name,
                department_id=dept_id,
                department=dept_name,
                level=level,
                bound=bool(is_bound),
                pledge=standings[staff_id].state is PledgeState.SIGNED,
                pledge_declined=standings[staff_id].state is PledgeState.DECLINED,
                quiz_score=scores.get(staff_id),
                educated_on=educated.get(staff_id),
                education_owed=level.value in EDUCATED_LEVELS,
                self_checked=staff_id in checked,
                self_check_owed=self_check_open and level.is_classified,
                # An approved departure starts the declassification period (第十四条), before the person has gone.
                departure_approved_on=departures[staff_id][0] if staff_id in departures else None,
                declassification_ends_on=departures[staff_id][1] if staff_id in departures else None,
                departing=staff_id in departures,
            )
        )
    leavers = await _leavers(session, today, department_id, until)

    label, nominal = inventory_period(policy.inventory_deadlines, today)
    deadline = due_date(nominal, calendar)
    resolved: ColumnElement[bool] = InventoryReport.resolved_at.is_not(None)
    if until is not None:
        resolved = resolved & (InventoryReport.resolved_at < until)
    reports = {
        row[0]: (row[1], row[2], row[3])
        for row in (
            await session.execute(
                _only(
                    select(
                        InventoryReport.department_id, InventoryReport.matches, InventoryReport.missing, resolved
                    ).where(InventoryReport.period == label, *_before(InventoryReport.reported_at, until)),
                    InventoryReport.department_id,
                    department_id,
                )
            )
        ).all()
    }
    cases = dict(
        (
            await session.execute(
                _only(
                    select(Staff.department_id, func.count(LeakCase.id))
                    .join(LeakReporter, LeakReporter.case_id == LeakCase.id)
                    .join(Staff, Staff.id == LeakReporter.staff_id)
                    .where(*_open_cases(until))
                    .group_by(Staff.department_id),
                    Staff.department_id,
                    department_id,
                )
            )
        ).all()
    )
    rectifications = await open_item_counts(session)  # 整改 items open now
    for dept_id, gone in leavers.items():
        names.setdefault(dept_id, gone[0].department)
    out = []
    for dept_id in sorted(names, key=lambda d: names[d]):
        members = people.get(dept_id, [])
        report = reports.get(dept_id)
        if report is None:
            state = InventoryState.OVERDUE if today > deadline else InventoryState.DUE
        else:
            state = InventoryState.of(*report)
        out.append(
            DepartmentCompliance(
                department_id=dept_id,
                name=names[dept_id],
                people=tuple(members),
                inventory_period=label,
                inventory_deadline=deadline,
                inventory=state,
                open_cases=int(cases.get(dept_id, 0)),
                open_rectifications=rectifications.get(dept_id, 0),
                leavers=tuple(leavers.get(dept_id, ())),
            )
        )
    return out


async def _leavers(
    session: AsyncSession, today: date, department_id: int | None, until: datetime | None
) -> dict[int, list[PersonCompliance]]:
    """People who have left and are still in their declassification period (not counted in any rate)."""
    rows = (
        await session.execute(
            _only(
                select(
                    Staff.id,
                    Staff.employee_id,
                    Staff.name,
                    Staff.department_id,
                    Department.name,
                    Departure.level,
                    Departure.approved_on,
                    Departure.ends_on,
                )
                .join(Staff, Staff.id == Departure.staff_id)
                .join(Department, Department.id == Staff.department_id)
                .where(
                    Staff.active.is_(False),
                    Departure.ends_on.is_not(None),
                    Departure.ends_on >= today,
                    *_before(Departure.created_at, until),
                )
                .order_by(Departure.ends_on),
                Staff.department_id,
                department_id,
            )
        )
    ).all()
    out: dict[int, list[PersonCompliance]] = defaultdict(list)
    for staff_id, employee_id, name, dept_id, dept_name, level, approved_on, ends_on in rows:
        out[dept_id].append(
            PersonCompliance(
                staff_id=staff_id,
                employee_id=employee_id,
                name=name,
                department_id=dept_id,
                department=dept_name,
                level=Level(level),
                bound=False,
                pledge=True,
                quiz_score=None,
                educated_on=None,
                education_owed=False,
                self_checked=False,
                self_check_owed=False,
                departure_approved_on=approved_on,
                declassification_ends_on=ends_on,
            )
        )
    return out


async def department(
    session: AsyncSession, today: date, policy: Policy, catalog: Catalog, calendar: WorkCalendar, department_id: int
) -> DepartmentCompliance | None:
    found = await departments(session, today, policy, catalog, calendar, department_id)
    return found[0] if found else None


# --- 催办: a head's nudge reaches a person at most once a (local) day -------------------------------------------
NUDGE = "nudge"


async def nudged_on(session: AsyncSession, staff_ids: list[int], day: date) -> set[int]:
    """Those among `staff_ids` already reminded by a 催办 on `day`."""
    if not staff_ids:
        return set()
    subjects = (
        await session.scalars(
            select(SentLog.subject).where(
                SentLog.duty == NUDGE,
                SentLog.period == day.isoformat(),
                SentLog.subject.in_([f"staff:{staff_id}" for staff_id in staff_ids]),
            )
        )
    ).all()
    return {int(subject.removeprefix("staff:")) for subject in subjects}


async def claim_nudges(session: AsyncSession, now: datetime, staff_ids: list[int], day: date) -> set[int]:
    """The people among `staff_ids` not nudged yet on `day`, claimed now in the sent-log (insert-or-ignore):
    whichever duty a nudge was about, a second one the same day reaches nobody."""
    rows = [
        {"duty": NUDGE, "subject": f"staff:{staff_id}", "period": day.isoformat(), "step": "team", "created_at": now}
        for staff_id in staff_ids
    ]
    claimed = await insert_ignore_returning(session, SentLog, rows, ["duty", "subject", "period", "step"], "subject")
    return {int(subject.removeprefix("staff:")) for subject in claimed}
