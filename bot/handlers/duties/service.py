"""Scheduled duties' records and set-based questions: who is due for education, which departments have not
confirmed their carrier inventory, who has done the October self-check."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, String, bindparam, cast, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff
from bot.db.models_duties import EducationRecord, InventoryReport, Rectification, SelfCheck, UnitSelfCheck
from bot.domain.levels import Level
from bot.domain.schedule import Period
from bot.services import audit
from bot.services.sentlog import not_claimed, staff_subject

EDUCATED_LEVELS = (Level.CORE.value, Level.IMPORTANT.value)  # 第十五条: core and important staff
EDUCATION_FORMS = ("meeting", "talk", "training")  # 会议 / 谈话 / 培训


@dataclass(frozen=True)
class DuePerson:
    staff_id: int
    employee_id: str
    name: str
    department_id: int


async def education_due(session: AsyncSession, period: Period, department_id: int | None = None) -> list[DuePerson]:
    """Active core and important staff with no education recorded within the period."""
    educated = exists().where(
        EducationRecord.staff_id == Staff.id,
        EducationRecord.held_on >= period.start,
        EducationRecord.held_on <= period.end,
    )
    query = select(Staff.id, Staff.employee_id, Staff.name, Staff.department_id).where(
        Staff.active.is_(True), Staff.level.in_(EDUCATED_LEVELS), ~educated
    )
    if department_id is not None:
        query = query.where(Staff.department_id == department_id)
    rows = (await session.execute(query.order_by(Staff.department_id, Staff.employee_id))).all()
    return [DuePerson(*row) for row in rows]


def by_department(people: list[DuePerson]) -> dict[int, list[DuePerson]]:
    grouped: dict[int, list[DuePerson]] = defaultdict(list)
    for person in people:
        grouped[person.department_id].append(person)
    return dict(grouped)


async def record_education(
    session: AsyncSession, now: datetime, recorded_by: int, staff_ids: list[int], held_on: date, form: str
) -> int:
    if form not in EDUCATION_FORMS:
        raise ValueError(f"unknown form {form!r}")
    for staff_id in staff_ids:
        session.add(
            EducationRecord(staff_id=staff_id, held_on=held_on, form=form, recorded_by=recorded_by, created_at=now)
        )
    await session.flush()
    await audit.record(
        session,
        now,
        recorded_by,
        "education.record",
        f"people:{len(staff_ids)}",
        held_on=held_on.isoformat(),
        form=form,
        staff_ids=staff_ids,
    )
    return len(staff_ids)


@dataclass(frozen=True)
class EducationInfo:
    held_on: date
    form: str


async def last_education(session: AsyncSession, staff_id: int) -> EducationInfo | None:
    row = (
        await session.execute(
            select(EducationRecord.held_on, EducationRecord.form)
            .where(EducationRecord.staff_id == staff_id)
            .order_by(EducationRecord.held_on.desc(), EducationRecord.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else EducationInfo(row[0], row[1])


@dataclass(frozen=True)
class DepartmentRef:
    id: int
    name: str


async def inventory_missing(session: AsyncSession, period: str) -> list[DepartmentRef]:
    """Departments with active staff that have not confirmed the inventory of this period."""
    reported = exists().where(InventoryReport.department_id == Department.id, InventoryReport.period == period)
    staffed = exists().where(Staff.department_id == Department.id, Staff.active.is_(True))
    rows = (
        await session.execute(
            select(Department.id, Department.name).where(staffed, ~reported).order_by(Department.name)
        )
    ).all()
    return [DepartmentRef(r[0], r[1]) for r in rows]


@dataclass(frozen=True)
class InventoryInfo:
    period: str
    checked: int
    matches: bool
    missing: int
    reported_at: datetime
    case_number: str | None


async def inventory_report(session: AsyncSession, department_id: int, period: str) -> InventoryInfo | None:
    report = await session.scalar(
        select(InventoryReport).where(InventoryReport.department_id == department_id, InventoryReport.period == period)
    )
    if report is None:
        return None
    return InventoryInfo(
        report.period, report.checked, report.matches, report.missing, report.reported_at, report.case_number
    )


async def record_inventory(
    session: AsyncSession,
    now: datetime,
    department_id: int,
    period: str,
    reported_by: int,
    checked: int,
    matches: bool,
    missing: int,
    case_number: str | None,
) -> None:
    session.add(
        InventoryReport(
            department_id=department_id,
            period=period,
            checked=checked,
            matches=matches,
            missing=missing,
            reported_by=reported_by,
            reported_at=now,
            case_number=case_number,
        )
    )
    await session.flush()
    await audit.record(
        session,
        now,
        reported_by,
        "inventory.report",
        f"department:{department_id}",
        period=period,
        checked=checked,
        matches=matches,
        missing=missing,
        case=case_number,
    )


# --- inventory discrepancies: a count that differs with nothing missing, resolved by the office ----------------
@dataclass(frozen=True)
class Discrepancy:
    id: int  # the inventory report's
    department_id: int
    department: str
    period: str
    checked: int
    reported_by: int
    reported_at: datetime


def _discrepancies() -> Select[InventoryReport, str]:
    """Reports whose count differs from the register with nothing missing, not resolved yet, oldest first."""
    return (
        select(InventoryReport, Department.name)
        .join(Department, Department.id == InventoryReport.department_id)
        .where(
            InventoryReport.matches.is_(False),
            InventoryReport.missing == 0,
            InventoryReport.resolved_at.is_(None),
        )
        .order_by(InventoryReport.reported_at, InventoryReport.id)
    )


def _discrepancy(row: InventoryReport, department: str) -> Discrepancy:
    return Discrepancy(row.id, row.department_id, department, row.period, row.checked, row.reported_by, row.reported_at)


async def open_discrepancies(
    session: AsyncSession,
    reported_before: datetime | None = None,
    unclaimed: tuple[str, str, str] | None = None,
) -> list[Discrepancy]:
    """The discrepancies still open, oldest first; reported before a moment only, and with `unclaimed` (duty,
    period, step) only those not yet claimed for it in the sent-log, when given."""
    query = _discrepancies()
    if reported_before is not None:
        query = query.where(InventoryReport.reported_at < reported_before)
    if unclaimed is not None:
        query = query.where(not_claimed(*unclaimed, literal("inventory:") + cast(InventoryReport.id, String)))
    return [_discrepancy(row, name) for row, name in (await session.execute(query)).all()]


async def resolve_discrepancy(
    session: AsyncSession, now: datetime, report_id: int, by: int, reason: str
) -> Discrepancy | None:
    """已核实: the office resolves an open discrepancy with a short reason; audit-logged. None when it is not open
    (resolved meanwhile, or not a discrepancy)."""
    found = (
        await session.execute(
            _discrepancies().where(InventoryReport.id == report_id).with_for_update(of=InventoryReport)
        )
    ).first()
    if found is None:
        return None
    row, department = found
    row.resolved_at, row.resolved_by, row.resolution = now, by, reason
    await audit.record(
        session, now, by, "inventory.resolve", f"department:{row.department_id}", period=row.period, reason=reason
    )
    return _discrepancy(row, department)


async def self_check_missing(
    session: AsyncSession,
    year: int,
    unasked: tuple[str, str, str] | None = None,
    people: tuple[int, int] | None = None,
) -> list[DuePerson]:
    """Active staff with a classified level who have not completed this year's self-check; with `unasked`
    (duty, period, step), only those not yet claimed for it in the sent-log; with `people`, only staff ids
    first..last."""
    done = exists().where(SelfCheck.staff_id == Staff.id, SelfCheck.year == year)
    query = select(Staff.id, Staff.employee_id, Staff.name, Staff.department_id).where(
        Staff.active.is_(True), Staff.level != Level.NONE.value, ~done
    )
    if unasked is not None:
        query = query.where(not_claimed(*unasked, staff_subject(Staff.id)))
    if people is not None:
        query = query.where(Staff.id.between(*people))
    rows = (await session.execute(query.order_by(Staff.department_id, Staff.employee_id))).all()
    return [DuePerson(*row) for row in rows]


# On the table, not the ORM entity (/status asks it for each person): plain rows skip the ORM's work at each
# execution; a self-check is flushed as it is recorded.
SELF_CHECKS = SelfCheck.__table__
SELF_CHECKED = select(SELF_CHECKS.c.staff_id).where(
    SELF_CHECKS.c.staff_id.in_(bindparam("staff_ids", expanding=True)), SELF_CHECKS.c.year == bindparam("year")
)


async def self_checked(session: AsyncSession, staff_ids: Sequence[int], year: int) -> dict[int, bool]:
    """Whether each person has done the year's self-check."""
    done = set((await session.scalars(SELF_CHECKED, {"staff_ids": list(staff_ids), "year": year})).all())
    return {staff_id: staff_id in done for staff_id in staff_ids}


async def has_self_check(session: AsyncSession, staff_id: int, year: int) -> bool:
    return (await self_checked(session, [staff_id], year))[staff_id]


async def record_self_check(
    session: AsyncSession, now: datetime, staff_id: int, year: int, answers: dict[str, Any]
) -> tuple[int, int]:
    """Stores the self-check; returns its id and how many items were answered 否."""
    no_count = sum(1 for a in answers.values() if a["answer"] == "no")
    row = SelfCheck(staff_id=staff_id, year=year, answers=answers, no_count=no_count, completed_at=now)
    session.add(row)
    await session.flush()
    return row.id, no_count


# --- 整改: every 否 of a self-check followed up to closure ------------------------------------------------------
@dataclass(frozen=True)
class RectificationInfo:
    id: int
    item: str
    note: str
    due_on: date
    person: str | None  # None: the unit's own self-assessment
    department: str | None
    owner_id: int | None  # None: the secrecy office


def noes(answers: dict[str, Any]) -> list[tuple[str, str]]:
    """The items answered 否, with their notes, in the checklist's order."""
    return [(item, a["note"]) for item, a in answers.items() if a["answer"] == "no"]


async def open_rectifications(
    session: AsyncSession,
    now: datetime,
    source: str,
    items: list[tuple[str, str]],
    due_on: date,
    staff_id: int | None,
    department_id: int | None,
    owner_id: int | None,
) -> int:
    """One 整改 item per 否, owned by `owner_id` (None: the office), due on `due_on`; returns how many."""
    for item, note in items:
        session.add(
            Rectification(
                source=source,
                item=item,
                staff_id=staff_id,
                department_id=department_id,
                owner_id=owner_id,
                note=note,
                due_on=due_on,
                opened_at=now,
            )
        )
    await session.flush()
    return len(items)


def _open_items() -> Select[Rectification, str, str]:
    """整改 items not closed, with whose answer and their department, soonest due first."""
    return (
        select(Rectification, Staff.name, Department.name)
        .outerjoin(Staff, Staff.id == Rectification.staff_id)
        .outerjoin(Department, Department.id == Rectification.department_id)
        .where(Rectification.closed_at.is_(None))
        .order_by(Rectification.due_on, Rectification.id)
    )


async def _items(session: AsyncSession, query: Select[Rectification, str, str]) -> list[RectificationInfo]:
    rows = (await session.execute(query)).all()
    return [RectificationInfo(r.id, r.item, r.note, r.due_on, name, dept, r.owner_id) for r, name, dept in rows]


async def open_items(session: AsyncSession, department_id: int | None = None) -> list[RectificationInfo]:
    """整改 items not closed, soonest due first: one department's, or (None) all of them."""
    query = _open_items()
    if department_id is not None:
        query = query.where(Rectification.department_id == department_id)
    return await _items(session, query)


async def overdue_items(
    session: AsyncSession, today: date, unclaimed: tuple[str, str, str] | None = None
) -> list[RectificationInfo]:
    """Open 整改 items whose due date has passed, soonest due first; with `unclaimed` (duty, period, step), only
    those not yet claimed for it in the sent-log."""
    query = _open_items().where(Rectification.due_on < today)
    if unclaimed is not None:
        query = query.where(not_claimed(*unclaimed, literal("rectification:") + cast(Rectification.id, String)))
    return await _items(session, query)


async def close_item(session: AsyncSession, now: datetime, item_id: int, by: int, department_id: int | None) -> bool:
    """销号: the item is closed by its owner (a head within their department) or the office; audit-logged."""
    row = await session.get(Rectification, item_id, with_for_update=True)
    if row is None or row.closed_at is not None:
        return False
    if department_id is not None and row.department_id != department_id:
        return False
    row.closed_at, row.closed_by = now, by
    await audit.record(session, now, by, "rectification.close", f"rectification:{row.id}", item=row.item)
    return True


async def open_item_counts(session: AsyncSession) -> dict[int | None, int]:
    """Open 整改 items per department (None: the unit's own)."""
    rows = await session.execute(
        select(Rectification.department_id, func.count(Rectification.id))
        .where(Rectification.closed_at.is_(None))
        .group_by(Rectification.department_id)
    )
    return {dept: int(count) for dept, count in rows.all()}


async def unit_check_done(session: AsyncSession, year: int) -> bool:
    return await session.scalar(select(UnitSelfCheck.id).where(UnitSelfCheck.year == year)) is not None


@dataclass(frozen=True)
class OfficeDuties:
    """What the secrecy office itself still owes, for /dashboard and the weekly digest."""

    unit_check_year: int | None  # the year whose unit self-assessment is not done, from its month on; else None
    discrepancies: int  # inventory discrepancies not verified yet

    def __bool__(self) -> bool:
        return self.unit_check_year is not None or self.discrepancies > 0


async def office_duties(session: AsyncSession, today: date, self_inspection_month: int) -> OfficeDuties:
    owed = today.month >= self_inspection_month and not await unit_check_done(session, today.year)
    discrepancies = await session.scalar(select(func.count()).select_from(_discrepancies().subquery()))
    return OfficeDuties(today.year if owed else None, int(discrepancies or 0))


async def record_unit_check(
    session: AsyncSession, now: datetime, officer_id: int, year: int, answers: dict[str, Any]
) -> int:
    """Stores the unit's self-assessment of the year; returns how many items were answered 否."""
    no_count = len(noes(answers))
    session.add(UnitSelfCheck(year=year, answers=answers, no_count=no_count, completed_by=officer_id, completed_at=now))
    await session.flush()
    await audit.record(session, now, officer_id, "unit_self_check.submit", f"unit_self_check:{year}", no=no_count)
    return no_count


# --- a person's history (the web console's 人员 page) ------------------------------------------------------------
async def educations(session: AsyncSession, staff_id: int) -> list[EducationInfo]:
    """Every education the person received, the latest first."""
    rows = await session.execute(
        select(EducationRecord.held_on, EducationRecord.form)
        .where(EducationRecord.staff_id == staff_id)
        .order_by(EducationRecord.held_on.desc(), EducationRecord.id.desc())
    )
    return [EducationInfo(row[0], row[1]) for row in rows.all()]


@dataclass(frozen=True)
class SelfCheckInfo:
    year: int
    completed_at: datetime
    no_count: int


@dataclass(frozen=True)
class ItemInfo:
    """A 整改 item of the person's self-check, open or closed."""

    item: str
    note: str
    due_on: date
    closed_at: datetime | None


async def self_checks(session: AsyncSession, staff_id: int) -> tuple[list[SelfCheckInfo], list[ItemInfo]]:
    """The person's self-checks (the latest year first) and the 整改 items their 否 answers opened."""
    checks = await session.execute(
        select(SelfCheck.year, SelfCheck.completed_at, SelfCheck.no_count)
        .where(SelfCheck.staff_id == staff_id)
        .order_by(SelfCheck.year.desc())
    )
    items = await session.execute(
        select(Rectification.item, Rectification.note, Rectification.due_on, Rectification.closed_at)
        .where(Rectification.staff_id == staff_id)
        .order_by(Rectification.opened_at.desc(), Rectification.id)
    )
    return [SelfCheckInfo(*row) for row in checks.all()], [ItemInfo(*row) for row in items.all()]
