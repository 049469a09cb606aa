"""Loads the compliance view (bot/handlers/compliance/rules.py) for the whole organisation or one department: each
person's standing from bot/handlers/compliance/standing.py, and the units' inventory, cases, 整改 and leavers."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.db.models import Department, SentLog, Staff
from bot.db.models_duties import InventoryReport
from bot.db.models_leak import LeakCase, LeakReporter
from bot.db.models_pledge import Departure
from bot.db.upsert import insert_ignore_returning
from bot.domain.levels import Level
from bot.domain.schedule import due_date, inventory_period
from bot.domain.workdays import WorkCalendar
from bot.handlers.compliance import standing
from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, InventoryState, PersonCompliance, Tally
from bot.handlers.duties.service import open_item_counts
from bot.handlers.leak.rules import Status
from bot.handlers.pledges.rules import Catalog

EMPTY = {duty: Tally(0, 0) for duty in DUTIES}


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
    people: bool = True,
    write: bool = False,
) -> list[DepartmentCompliance]:
    """Every department with active staff or people in their declassification period (or the one given), in
    name order, judged as of `today` (bot/handlers/compliance/standing.py). With `until` (an export for a past
    day), only what was recorded before it counts: signatures, passes, education, self-checks, inventory reports,
    departures and open cases; the people are today's roster less those added since. Without `people`, each
    department carries its figures alone (counted by the database, for 100,000 people as for 100). `write`: the
    transaction may write, so the kept standings are brought up to date and kept (standing.source)."""
    facts = await standing.source(session, until, write)
    members: dict[int, list[PersonCompliance]] = defaultdict(list)
    counted: dict[int, standing.UnitTallies] = {}
    names: dict[int, str] = {}
    if people:
        query = standing.people_query(facts, today, policy, catalog).order_by(Department.name, Staff.employee_id)
        if department_id is not None:
            query = query.where(facts.c.department_id == department_id)
        for row in (await session.execute(query)).all():
            person = standing.person(row)
            members[person.department_id].append(person)
            names[person.department_id] = person.department
    else:
        counted = await standing.unit_tallies(session, facts, today, policy, catalog, department_id)
        if counted:
            found = await session.execute(_only(select(Department.id, Department.name), Department.id, department_id))
            names.update({row[0]: row[1] for row in found.all() if row[0] in counted})
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
        members_of = members.get(dept_id, [])
        figures = counted.get(dept_id)
        report = reports.get(dept_id)
        if report is None:
            state = InventoryState.OVERDUE if today > deadline else InventoryState.DUE
        else:
            state = InventoryState.of(*report)
        out.append(
            DepartmentCompliance(
                department_id=dept_id,
                name=names[dept_id],
                people=tuple(members_of),
                inventory_period=label,
                inventory_deadline=deadline,
                inventory=state,
                open_cases=int(cases.get(dept_id, 0)),
                open_rectifications=rectifications.get(dept_id, 0),
                leavers=tuple(leavers.get(dept_id, ())),
                counted=None if people else (figures.headcount, figures.tallies) if figures else (0, EMPTY),
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
    session: AsyncSession,
    today: date,
    policy: Policy,
    catalog: Catalog,
    calendar: WorkCalendar,
    department_id: int,
    write: bool = False,
) -> DepartmentCompliance | None:
    found = await departments(session, today, policy, catalog, calendar, department_id, write=write)
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
