"""Set-based questions about staff: who are the officers, who heads each department. The one place these are
asked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff
from bot.domain.levels import Role

# The roster's role columns (heads are per department: head_ids).
ROLE_COLUMNS = {
    Role.OFFICER: Staff.is_officer,
    Role.LEADER: Staff.is_leader,
    Role.GROUP: Staff.is_group_member,
    Role.CHIEF: Staff.is_chief,
}


async def officer_ids(session: AsyncSession, people: tuple[int, int] | None = None) -> Sequence[int]:
    """The active officers; of staff ids first..last only, when given (a chunk of the sweeps)."""
    query = select(Staff.id).where(Staff.is_officer.is_(True), Staff.active.is_(True))
    if people is not None:
        query = query.where(Staff.id.between(*people))
    return (await session.scalars(query)).all()


async def officer_or_office(session: AsyncSession, officer_id: int | None) -> Sequence[int]:
    """The officer in charge of something (who started it) while still an active officer, else every officer."""
    officers = await officer_ids(session)
    return [officer_id] if officer_id is not None and officer_id in officers else officers


async def role_ids(session: AsyncSession, *roles: Role) -> Sequence[int]:
    """The active people holding any of `roles`, by id."""
    held = or_(*(ROLE_COLUMNS[role].is_(True) for role in roles))
    return (await session.scalars(select(Staff.id).where(held, Staff.active.is_(True)).order_by(Staff.id))).all()


async def head_ids(session: AsyncSession, department_id: int) -> Sequence[int]:
    return (
        await session.scalars(
            select(Staff.id).where(
                Staff.is_head.is_(True), Staff.active.is_(True), Staff.department_id == department_id
            )
        )
    ).all()


async def heads_by_department(session: AsyncSession, people: tuple[int, int] | None = None) -> dict[int, list[int]]:
    """The active heads by department; of staff ids first..last only, when given (a chunk of the sweeps)."""
    query = select(Staff.department_id, Staff.id).where(Staff.is_head.is_(True), Staff.active.is_(True))
    if people is not None:
        query = query.where(Staff.id.between(*people))
    rows = (await session.execute(query)).all()
    heads: dict[int, list[int]] = defaultdict(list)
    for department_id, staff_id in rows:
        heads[department_id].append(staff_id)
    return heads


async def department_names(session: AsyncSession) -> dict[int, str]:
    rows = (await session.execute(select(Department.id, Department.name))).all()
    return {row[0]: row[1] for row in rows}
