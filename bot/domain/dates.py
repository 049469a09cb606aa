"""Dates: the one month arithmetic of every period in the product, and reading dates as people type them."""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import TypeVar

Day = TypeVar("Day", bound=date)  # a date, or a datetime (which keeps its time of day)


def add_months(day: Day, months: int) -> Day:
    """The corresponding day `months` later (earlier when negative), or that month's last day when it has none.

    This is how every period counted in months ends (民法典 第二百零一条: the first day is not counted;
    第二百零二条: the period ends on the corresponding day of its last month, or on that month's last day when
    there is none): 2026-04-08 + 6 → 2026-10-08, 2026-08-31 + 6 → 2027-02-28, 2024-02-29 + 12 → 2025-02-28.
    A datetime keeps its time of day."""
    year_offset, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + year_offset, month_index + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


_ISO = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})日?$")


def parse_day(text: str, today: date) -> date | None:
    """2026-03-02, 2026/3/2, 2026年3月2日, or 3月2日 / 3-2 (this year; last year if that is in the future)."""
    text = text.strip().replace(" ", "")
    try:
        if match := _ISO.match(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _MONTH_DAY.match(text):
            day = date(today.year, int(match[1]), int(match[2]))
            return day if day <= today else date(today.year - 1, day.month, day.day)
    except ValueError:
        return None
    return None
