"""Set-based questions about staff: who are the officers, who heads each department. The one place these are
asked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff


async def officer_ids(session: AsyncSession) -> Sequence[int]:
    return (await session.scalars(select(Staff.id).where(Staff.is_officer.is_(True), Staff.active.is_(True)))).all()


async def leader_ids(session: AsyncSession) -> Sequence[int]:
    """The bureau's leadership (分管领导): told of what the secrecy office leaves unanswered too long."""
    return (await session.scalars(select(Staff.id).where(Staff.is_leader.is_(True), Staff.active.is_(True)))).all()


async def head_ids(session: AsyncSession, department_id: int) -> Sequence[int]:
    return (
        await session.scalars(
            select(Staff.id).where(
                Staff.is_head.is_(True), Staff.active.is_(True), Staff.department_id == department_id
            )
        )
    ).all()


async def heads_by_department(session: AsyncSession) -> dict[int, list[int]]:
    rows = (
        await session.execute(
            select(Staff.department_id, Staff.id).where(Staff.is_head.is_(True), Staff.active.is_(True))
        )
    ).all()
    heads: dict[int, list[int]] = defaultdict(list)
    for department_id, staff_id in rows:
        heads[department_id].append(staff_id)
    return heads


async def department_names(session: AsyncSession) -> dict[int, str]:
    rows = (await session.execute(select(Department.id, Department.name))).all()
    return {row[0]: row[1] for row in rows}
