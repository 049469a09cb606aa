"""Who someone is: staff records as plain values, resolved from a channel account or an employee id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Binding, Department, Staff
from bot.db.upsert import insert_ignore
from bot.domain.levels import Level, Role
from bot.services import audit

ROSTER_BIND_CHUNK = 1000  # bindings per INSERT: within every database's limit on bound parameters


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
    hired_on: date | None = None  # took up the post (上岗); None: not on the roster
    secret_matters: str | None = None  # 保密事项 the person handles (第十二条)

    def has(self, role: Role) -> bool:
        return role in self.roles


def person_of(row: Row[Any, *tuple[Any, ...]]) -> Person:
    """A row of PERSON's columns, in their order (others may follow them). By position: a row's attribute is found
    by name at every access, and this runs for every event."""
    (
        staff_id,
        employee_id,
        name,
        department_id,
        level,
        is_head,
        is_officer,
        is_leader,
        is_group_member,
        is_chief,
        active,
        departed_on,
        locale,
        hired_on,
        secret_matters,
        department,
    ) = row[:PERSON_COLUMNS]
    roles = {Role.STAFF}
    if is_head:
        roles.add(Role.HEAD)
    if is_officer:
        roles.add(Role.OFFICER)
    if is_leader:
        roles.add(Role.LEADER)
    if is_group_member:
        roles.add(Role.GROUP)
    if is_chief:
        roles.add(Role.CHIEF)
    return Person(
        id=staff_id,
        employee_id=employee_id,
        name=name,
        department_id=department_id,
        department=department,
        level=Level(level),
        roles=frozenset(roles),
        active=active,
        departed_on=departed_on,
        locale=locale,
        hired_on=hired_on,
        secret_matters=secret_matters,
    )


# What a Person is made of, as plain columns of the tables: read for every event, so no ORM objects are built.
STAFF = cast(Table, Staff.__table__)
BINDING = cast(Table, Binding.__table__)
DEPARTMENT = cast(Table, Department.__table__)
PERSON = select(
    *(
        STAFF.c[name]
        for name in (
            "id",
            "employee_id",
            "name",
            "department_id",
            "level",
            "is_head",
            "is_officer",
            "is_leader",
            "is_group_member",
            "is_chief",
            "active",
            "departed_on",
            "locale",
            "hired_on",
            "secret_matters",
        )
    ),
    DEPARTMENT.c.name.label("department"),
).join(DEPARTMENT, STAFF.c.department_id == DEPARTMENT.c.id)
PERSON_COLUMNS = len(PERSON.selected_columns)  # person_of unpacks them in this order


async def by_binding(session: AsyncSession, channel: str, channel_user_id: str) -> Person | None:
    row = (
        await session.execute(
            PERSON.join(BINDING, BINDING.c.staff_id == STAFF.c.id).where(
                BINDING.c.channel == channel, BINDING.c.channel_user_id == channel_user_id
            )
        )
    ).first()
    return None if row is None else person_of(row)


# Built once (the engine's preload extends it), with its values bound at each use: the people behind a batch's
# accounts on one channel, each row a person's columns (`person_of`), then the account and whether it is unreachable.
BY_BINDINGS = (
    PERSON.add_columns(BINDING.c.channel_user_id, BINDING.c.unreachable_at)
    .join(BINDING, BINDING.c.staff_id == STAFF.c.id)
    .where(BINDING.c.channel == bindparam("channel"), BINDING.c.channel_user_id.in_(bindparam("users", expanding=True)))
)


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


async def bind_roster_accounts(session: AsyncSession, now: datetime, channel: str) -> int:
    """Bind every active person whose roster names their account on `channel` (the WeCom userid) and who has
    no binding there yet: the enterprise's own accounts need no invitation, and reminders and notices reach
    them before they first write. An account already bound to someone else is left alone. Returns how many
    were bound (one audit entry for them all)."""
    bound = exists().where(Binding.channel == channel, Binding.staff_id == Staff.id)
    rows = (
        await session.execute(
            select(Staff.id, Staff.wecom_userid).where(
                Staff.active.is_(True), Staff.wecom_userid.is_not(None), Staff.wecom_userid != "", ~bound
            )
        )
    ).all()
    if not rows:
        return 0
    # WeCom ignores case: an account bound under any spelling is taken.
    taken = {
        user.lower()
        for user in (await session.scalars(select(Binding.channel_user_id).where(Binding.channel == channel))).all()
    }
    bindings = []
    for staff_id, user in rows:
        if user and user.lower() not in taken:
            taken.add(user.lower())
            bindings.append(
                {"staff_id": staff_id, "channel": channel, "channel_user_id": user, "chat_id": user, "created_at": now}
            )
    added = 0
    for start in range(0, len(bindings), ROSTER_BIND_CHUNK):
        added += await insert_ignore(
            session, Binding, bindings[start : start + ROSTER_BIND_CHUNK], ["channel", "channel_user_id"]
        )
    if added:
        await audit.record(session, now, None, "binding.roster", f"channel:{channel}", count=added)
    return added


async def by_id(session: AsyncSession, staff_id: int) -> Person | None:
    row = (await session.execute(PERSON.where(STAFF.c.id == staff_id))).first()
    return None if row is None else person_of(row)


async def by_employee_id(session: AsyncSession, employee_id: str) -> Person | None:
    """By employee id as typed: e102 is E102."""
    wanted = employee_id.strip()
    row = (await session.execute(PERSON.where(func.upper(STAFF.c.employee_id) == wanted.upper()))).first()
    return None if row is None else person_of(row)


async def search(session: AsyncSession, typed: str, limit: int = 10, department_id: int | None = None) -> list[Person]:
    """Active people whose employee id is the typed one (in any case) or whose name contains it, by employee id;
    only those of `department_id` when given."""
    wanted = typed.strip()
    if not wanted:
        return []
    query = PERSON.where(
        STAFF.c.active.is_(True),
        or_(func.upper(STAFF.c.employee_id) == wanted.upper(), STAFF.c.name.contains(wanted, autoescape=True)),
    )
    if department_id is not None:
        query = query.where(STAFF.c.department_id == department_id)
    rows = (await session.execute(query.order_by(STAFF.c.employee_id).limit(limit))).all()
    return [person_of(r) for r in rows]


# Built once (/status asks it): a statement's cache key is then worked out once. On the table, not the ORM entity:
# plain rows skip the ORM's work at each execution (every writer of a binding flushes it at once).
CHANNELS = select(BINDING.c.staff_id, BINDING.c.channel).where(
    BINDING.c.staff_id.in_(bindparam("staff_ids", expanding=True))
)


async def bound_channels(session: AsyncSession, staff_ids: Sequence[int]) -> dict[int, list[str]]:
    """The channels on which each person has an account bound."""
    out: dict[int, list[str]] = {staff_id: [] for staff_id in staff_ids}
    for staff_id, channel in await session.execute(CHANNELS, {"staff_ids": list(staff_ids)}):
        out[staff_id].append(channel)
    return {staff_id: sorted(channels) for staff_id, channels in out.items()}


SET_LOCALE = update(STAFF).where(STAFF.c.id == bindparam("staff_id")).values(locale=bindparam("chosen"))


async def set_locale(session: AsyncSession, staff_id: int, locale: str) -> None:
    await session.execute(SET_LOCALE, {"staff_id": staff_id, "chosen": locale})


async def locales(session: AsyncSession, staff_ids: list[int]) -> dict[int, str]:
    """Each person's language, for messages written to several people."""
    if not staff_ids:
        return {}
    rows = (await session.execute(select(Staff.id, Staff.locale).where(Staff.id.in_(staff_ids)))).all()
    return {row[0]: row[1] for row in rows}
