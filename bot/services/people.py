"""Who someone is: staff records as plain values, resolved from a channel account or an employee id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Binding, Department, Staff
from bot.domain.levels import Level, Role


@dataclass(frozen=True)
class Person:
    id: int
    employee_id: str
    name: str
    department_id: int
    department: str
    level: Level
    roles: frozenset[Role]
    active: bool
    departed_on: date | None
    locale: str

    def has(self, role: Role) -> bool:
        return role in self.roles


def person_of(staff: Staff, department: str) -> Person:
    roles = {Role.STAFF}
    if staff.is_head:
        roles.add(Role.HEAD)
    if staff.is_officer:
        roles.add(Role.OFFICER)
    return Person(
        id=staff.id,
        employee_id=staff.employee_id,
        name=staff.name,
        department_id=staff.department_id,
        department=department,
        level=Level(staff.level),
        roles=frozenset(roles),
        active=staff.active,
        departed_on=staff.departed_on,
        locale=staff.locale,
    )


def _people() -> Select[Staff, str]:
    return select(Staff, Department.name).join(Department, Staff.department_id == Department.id)


async def by_binding(session: AsyncSession, channel: str, channel_user_id: str) -> Person | None:
    row = (
        await session.execute(
            _people()
            .join(Binding, Binding.staff_id == Staff.id)
            .where(Binding.channel == channel, Binding.channel_user_id == channel_user_id)
        )
    ).first()
    return None if row is None else person_of(row[0], row[1])


async def by_bindings(session: AsyncSession, channel: str, channel_user_ids: set[str]) -> dict[tuple[str, str], Person]:
    """Many at once (a batch of events): keyed by (channel, channel user id)."""
    rows = (
        await session.execute(
            select(Staff, Department.name, Binding.channel_user_id)
            .join(Department, Staff.department_id == Department.id)
            .join(Binding, Binding.staff_id == Staff.id)
            .where(Binding.channel == channel, Binding.channel_user_id.in_(channel_user_ids))
        )
    ).all()
    return {(channel, row[2]): person_of(row[0], row[1]) for row in rows}


async def reachable_again(session: AsyncSession, channel: str, channel_user_ids: set[str]) -> None:
    """These accounts just wrote to the bot: whatever refused them before (a block, an account outside the
    application's visible range) is over, and proactive messages reach them again."""
    await session.execute(
        update(Binding)
        .where(
            Binding.channel == channel,
            Binding.channel_user_id.in_(channel_user_ids),
            Binding.unreachable_at.is_not(None),
        )
        .values(unreachable_at=None)
        .execution_options(synchronize_session=False)
    )


async def by_id(session: AsyncSession, staff_id: int) -> Person | None:
    row = (await session.execute(_people().where(Staff.id == staff_id))).first()
    return None if row is None else person_of(row[0], row[1])


async def by_employee_id(session: AsyncSession, employee_id: str) -> Person | None:
    row = (await session.execute(_people().where(Staff.employee_id == employee_id))).first()
    return None if row is None else person_of(row[0], row[1])


async def set_locale(session: AsyncSession, staff_id: int, locale: str) -> None:
    await session.execute(
        update(Staff).where(Staff.id == staff_id).values(locale=locale).execution_options(synchronize_session=False)
    )


async def locales(session: AsyncSession, staff_ids: list[int]) -> dict[int, str]:
    """Each person's language, for messages written to several people."""
    if not staff_ids:
        return {}
    rows = (await session.execute(select(Staff.id, Staff.locale).where(Staff.id.in_(staff_ids)))).all()
    return {row[0]: row[1] for row in rows}
