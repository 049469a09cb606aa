"""Declassification periods (脱密期) after a classified person leaves the post.

The bureau's rules fix the default length per level (一般涉密人员6个月, 重要涉密人员1年,
核心涉密人员2年); an officer may set another length within the national legal range.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, timedelta
from types import MappingProxyType

from bot.domain.levels import Level

DEFAULT_MONTHS: Mapping[Level, int] = MappingProxyType({Level.GENERAL: 6, Level.IMPORTANT: 12, Level.CORE: 24})

LEGAL_RANGE: Mapping[Level, tuple[int, int]] = MappingProxyType(
    {Level.GENERAL: (6, 12), Level.IMPORTANT: (12, 24), Level.CORE: (24, 36)}
)

_LEVEL_NAMES: Mapping[Level, str] = MappingProxyType(
    {
        Level.GENERAL: "一般涉密人员",
        Level.IMPORTANT: "重要涉密人员",
        Level.CORE: "核心涉密人员",
        Level.NONE: "非涉密人员",
    }
)


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    year_offset, month_index = divmod(month - 1 + months, 12)
    return year + year_offset, month_index + 1


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (or earlier), clamped to the end of a shorter month."""
    year, month = _shift_month(day.year, day.month, months)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(start: date, months: int) -> date:
    """The last day of a period of `months` months whose first day is `start` (both days included).

    The period ends the day before the same day of the month `months` later: starting 1 Mar 2026,
    6 months end on 31 Aug 2026. When that later month has no such day (a period starting 31 Aug
    ends in a February), the period runs to the end of that month rather than clamping first and
    then stepping back a day, so a declassification period is never cut short.
    """
    if months < 1:
        raise ValueError(f"脱密期至少为1个月，收到{months}个月")
    year, month = _shift_month(start.year, start.month, months)
    month_length = calendar.monthrange(year, month)[1]
    if start.day > month_length:
        return date(year, month, month_length)
    return date(year, month, start.day) - timedelta(days=1)


def validate_months(level: Level, months: int) -> None:
    """Raise ValueError (with a message for the officer) unless `months` is legal for `level`."""
    legal = LEGAL_RANGE.get(level)
    if legal is None:
        raise ValueError(f"{_LEVEL_NAMES[level]}没有脱密期")
    low, high = legal
    if not low <= months <= high:
        raise ValueError(f"{_LEVEL_NAMES[level]}的脱密期应为{low}至{high}个月，收到{months}个月")


def days_left(end: date, today: date) -> int:
    """Days remaining until the last day `end`: 0 on that day, negative once it has passed."""
    return (end - today).days
