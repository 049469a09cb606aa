"""Who is in a department and whether they can be reached by the bot."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Binding, Department, Staff
from bot.domain.levels import Level
from bot.domain.ordering import natural_key


@dataclass(frozen=True)
class Member:
    staff_id: int
    employee_id: str
    name: str
    level: Level
    bound: bool


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    name: str


async def departments(session: AsyncSession) -> list[DepartmentInfo]:
    rows = (await session.execute(select(Department.id, Department.name))).all()
    # Natural order: 第2中学 before 第10中学.
    return sorted((DepartmentInfo(r[0], r[1]) for r in rows), key=lambda d: natural_key(d.name))


async def department(session: AsyncSession, department_id: int) -> DepartmentInfo | None:
    dept = await session.get(Department, department_id)
    return None if dept is None else DepartmentInfo(dept.id, dept.name)


async def members(session: AsyncSession, department_id: int) -> list[Member]:
    bound = exists().where(Binding.staff_id == Staff.id, Binding.unreachable_at.is_(None))
    rows = (
        await session.execute(
            select(Staff.id, Staff.employee_id, Staff.name, Staff.level, bound)
            .where(Staff.department_id == department_id, Staff.active.is_(True))
            .order_by(Staff.employee_id)
        )
    ).all()
    return [Member(r[0], r[1], r[2], Level(r[3]), bool(r[4])) for r in rows]
