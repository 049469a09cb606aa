"""When the bureau started using the bot: the one date the launch grace and the 上岗 / 在岗 choice run from.

The policy's `launch_date` when set; otherwise the day of the bureau's first roster import, recorded once by
the import (and, for installations older than the record, by migration 0017 from the earliest staff row). A
deadline never falls within `launch_grace_days` of it (bot/handlers/pledges/service.py `after_launch_grace`), so
nobody is told on first contact that they are overdue, configured or not."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.db.models import InstallationValue
from bot.db.session import forget, read_once
from bot.db.upsert import insert_ignore

FIRST_IMPORT = "roster.first_import"  # installation_value key: the local day of the first roster import
# Built once, on the table rather than the ORM entity: every transaction that reads a deadline (each /status) reads it,
# and plain rows skip the ORM's work at each execution (the value is written by a plain insert, never an entity).
VALUES = InstallationValue.__table__
FIRST_IMPORT_DAY = select(VALUES.c.value).where(VALUES.c.key == FIRST_IMPORT)


async def record_first_import(session: AsyncSession, now: datetime, timezone: ZoneInfo) -> None:
    """Remember the day of the first roster import; later imports leave it as it is."""
    day = now.astimezone(timezone).date().isoformat()
    forget(session, FIRST_IMPORT)
    await insert_ignore(session, InstallationValue, [{"key": FIRST_IMPORT, "value": day, "updated_at": now}], ["key"])


async def launch_day(session: AsyncSession, policy: Policy) -> date | None:
    """The policy's `launch_date`, else the day of the first roster import; None before any import."""
    if policy.launch_date is not None:
        return policy.launch_date

    async def load() -> date | None:
        value = await session.scalar(FIRST_IMPORT_DAY)
        return date.fromisoformat(value) if value else None

    return await read_once(session, FIRST_IMPORT, load)
