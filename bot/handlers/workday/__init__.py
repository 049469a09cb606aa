"""The working-day calendar (China's official calendar with its 调休 days), corrected by officers with /workday;
every duty's deadlines and routine reminders follow it."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.workday.flows import WorkdayFlow, calendar_status


def register(bot: Wiring) -> None:
    bot.command("workday", WorkdayFlow(), aliases=("工作日", "调休"))
    bot.status(calendar_status)
