"""What held back the bot's messages, for the officers: a channel records a day on which it stopped sending routine
messages (reminders, notices) short of the service's daily total (WeCom: accounts × 200 person-messages), and the
weekly digest says so. Recorded in the audit log: a delayed notice is a fact an inspection may ask about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditLog
from bot.services import audit

HELD_BACK = "outbox.held_back"


@dataclass(frozen=True)
class HeldBack:
    channel: str
    day: date
    sent: int  # person-messages sent that day when routine ones were held back
    limit: int  # the day's total allowed
    until: datetime  # when the held messages go out


async def record_held_back(
    session: AsyncSession, now: datetime, channel: str, day: date, sent: int, limit: int, until: datetime
) -> None:
    await audit.record(
        session,
        now,
        None,
        HELD_BACK,
        f"channel:{channel}",
        channel=channel,
        day=day.isoformat(),
        sent=sent,
        limit=limit,
        until=until.isoformat(),
    )


async def held_back_since(session: AsyncSession, since: datetime) -> list[HeldBack]:
    """The days since `since` on which a channel held back routine messages, oldest first (a day recorded again
    after a restart is listed once)."""
    rows = (
        await session.scalars(
            select(AuditLog).where(AuditLog.action == HELD_BACK, AuditLog.at >= since).order_by(AuditLog.id)
        )
    ).all()
    found: dict[tuple[str, date], HeldBack] = {}
    for row in rows:
        held = HeldBack(
            str(row.detail["channel"]),
            date.fromisoformat(row.detail["day"]),
            int(row.detail["sent"]),
            int(row.detail["limit"]),
            datetime.fromisoformat(row.detail["until"]),
        )
        found.setdefault((held.channel, held.day), held)
    return list(found.values())
