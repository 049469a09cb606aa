"""The calendar of recurring duties, as pure date arithmetic: half-years, inventory deadlines, reminder
steps. Working days come from a WorkCalendar passed in; nothing here reads the clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.domain.workdays import WorkCalendar


@dataclass(frozen=True)
class Period:
    """A span a duty is due in, e.g. the first half of 2026 ("2026H1", 1 January – 30 June)."""

    label: str
    start: date
    end: date  # inclusive


def half_year(day: date) -> Period:
    if day.month <= 6:
        return Period(f"{day.year}H1", date(day.year, 1, 1), date(day.year, 6, 30))
    return Period(f"{day.year}H2", date(day.year, 7, 1), date(day.year, 12, 31))


def previous_half_year(period: Period) -> Period:
    return half_year(date(period.start.year - 1, 12, 31) if period.start.month == 1 else date(period.start.year, 6, 30))


def half_year_kickoff(period: Period, starts: Iterable[tuple[int, int]], calendar: WorkCalendar) -> date:
    """The first working day on or after the configured start of this half-year (default 5 January / 5 July)."""
    month, day = next((m, d) for m, d in starts if period.start.month <= m <= period.end.month)
    return calendar.next_working_day(date(period.start.year, month, day))


def inventory_period(deadlines: Iterable[tuple[int, int]], today: date) -> tuple[str, date]:
    """The inventory due next on or after `today` (or the last one of the year, once all have passed):
    its label ("2026" for a yearly inventory, "2026-06" for each of several) and its nominal deadline."""
    ordered = sorted(deadlines)
    several = len(ordered) > 1
    for month, day in ordered:
        deadline = date(today.year, month, day)
        if today <= deadline:
            return (f"{today.year}-{month:02}" if several else str(today.year)), deadline
    month, day = ordered[-1]
    return (f"{today.year}-{month:02}" if several else str(today.year)), date(today.year, month, day)


def due_date(nominal: date, calendar: WorkCalendar) -> date:
    """A deadline falling on a holiday moves to the previous working day."""
    return calendar.previous_working_day(nominal)


def applicable_step(days_left: int, steps: Iterable[int]) -> int | None:
    """Which "N days before" reminder is due: the smallest step not below the days left. After downtime
    this skips the reminders whose moment has become pointless ("7 days left" when 1 is left)."""
    candidates = [s for s in steps if s >= days_left >= 0]
    return min(candidates) if candidates else None
