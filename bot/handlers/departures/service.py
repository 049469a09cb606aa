"""Declassification periods (脱密期) running now: who, until when, how many days left; changing a period within
its legal range (一般 6–12, 重要 12–24, 核心 24–36 months) with an audit-logged reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff
from bot.db.models_pledge import Departure
from bot.domain.declassification import days_left, period_end, validate_months
from bot.domain.levels import Level
from bot.services import audit


@dataclass(frozen=True)
class Countdown:
    departure_id: int
    staff_id: int
    employee_id: str
    name: str
    department: str
    level: Level
    approved_on: date
    months: int
    ends_on: date
    days_left: int


async def running(session: AsyncSession, today: date, ended_since: date | None = None) -> list[Countdown]:
    """Periods not over by `today` (or ended on or after `ended_since`), soonest end first."""
    since = today if ended_since is None else min(today, ended_since)
    rows = (
        await session.execute(
            select(Departure, Staff.employee_id, Staff.name, Department.name)
            .join(Staff, Staff.id == Departure.staff_id)
            .join(Department, Department.id == Staff.department_id)
            .where(Departure.months > 0, Departure.ends_on.is_not(None), Departure.ends_on >= since)
            .order_by(Departure.ends_on, Staff.employee_id)
        )
    ).all()
    out = []
    for departure, employee_id, name, department in rows:
        assert departure.ends_on is not None and departure.approved_on is not None
        out.append(
            Countdown(
                departure.id,
                departure.staff_id,
                employee_id,
                name,
                department,
                Level(departure.level),
                departure.approved_on,
                departure.months,
                departure.ends_on,
                days_left(departure.ends_on, today),
            )
        )
    return out


async def change_period(
    session: AsyncSession,
    now: datetime,
    today: date,
    officer_id: int | None,
    employee_id: str,
    months: int,
    reason: str,
) -> Countdown | None:
    """Sets the latest departure's period of the person; None when they have none. Raises ValueError (with a
    Chinese message) outside the legal range."""
    row = (
        await session.execute(
            select(Departure)
            .join(Staff, Staff.id == Departure.staff_id)
            .where(
                func.upper(Staff.employee_id) == employee_id.strip().upper(),
                Departure.months > 0,
                Departure.approved_on.is_not(None),
            )
            .order_by(Departure.approved_on.desc(), Departure.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    assert row.approved_on is not None
    validate_months(Level(row.level), months)
    before = row.months
    row.months = months
    row.ends_on = period_end(row.approved_on, months)
    await session.flush()
    await audit.record(
        session,
        now,
        officer_id,
        "declassification.change",
        f"staff:{row.staff_id}",
        months_before=before,
        months_after=months,
        reason=reason,
    )
    return next(c for c in await running(session, today, ended_since=row.approved_on) if c.departure_id == row.id)
