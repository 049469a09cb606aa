"""The working-day calendar as the bot uses it: official data, officers' overrides, and what is not covered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import CalendarOverride
from bot.db.session import forget, read_once
from bot.db.upsert import insert_ignore
from bot.domain.workdays import WorkCalendar
from bot.services import audit


@dataclass(frozen=True)
class Override:
    day: date
    is_working: bool
    reason: str


# Built once, on the table rather than the ORM entity: every transaction that reads a deadline (each /status) reads
# the overrides, and plain rows skip the ORM's work at each execution. set_override flushes what it changes.
OVERRIDES_TABLE = CalendarOverride.__table__
OVERRIDES = select(OVERRIDES_TABLE.c.day, OVERRIDES_TABLE.c.is_working, OVERRIDES_TABLE.c.reason).order_by(
    OVERRIDES_TABLE.c.day
)


async def overrides(session: AsyncSession, since: date | None = None) -> list[Override]:
    query = OVERRIDES if since is None else OVERRIDES.where(OVERRIDES_TABLE.c.day >= since)
    rows = (await session.execute(query)).all()
    return [Override(r[0], r[1], r[2]) for r in rows]


async def work_calendar(session: AsyncSession) -> WorkCalendar:
    async def load() -> WorkCalendar:
        return WorkCalendar({o.day: o.is_working for o in await overrides(session)})

    return await read_once(session, CALENDAR, load)


CALENDAR = "calendar"  # read_once's key


async def set_override(
    session: AsyncSession, now: datetime, officer_id: int, day: date, is_working: bool, reason: str
) -> None:
    forget(session, CALENDAR)
    existing = await session.get(CalendarOverride, day)
    if existing is None:
        await insert_ignore(
            session,
            CalendarOverride,
            [{"day": day, "is_working": is_working, "set_by": officer_id, "reason": reason, "created_at": now}],
            ["day"],
        )
    else:
        existing.is_working, existing.set_by, existing.reason, existing.created_at = is_working, officer_id, reason, now
        await session.flush()  # `overrides` reads the table, past the ORM's view of the row
    await audit.record(
        session, now, officer_id, "calendar.override", f"day:{day.isoformat()}", working=is_working, reason=reason
    )


def uncovered_years(today: date, calendar: WorkCalendar) -> list[int]:
    """This year and next, where the official calendar has no data (the Monday–Friday fallback applies)."""
    return [year for year in (today.year, today.year + 1) if not calendar.is_covered(date(year, 1, 1))]
