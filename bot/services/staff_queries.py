"""Set-based questions about staff: who are the officers, who heads a department."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Staff


async def officer_ids(session: AsyncSession) -> Sequence[int]:
    return (await session.scalars(select(Staff.id).where(Staff.is_officer.is_(True), Staff.active.is_(True)))).all()


async def head_ids(session: AsyncSession, department_id: int) -> Sequence[int]:
    return (
        await session.scalars(
            select(Staff.id).where(
                Staff.is_head.is_(True), Staff.active.is_(True), Staff.department_id == department_id
            )
        )
    ).all()
