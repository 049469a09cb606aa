"""Declassification periods (脱密期) after a classified person leaves the post.

The bureau's rules fix the default length per level (一般涉密人员6个月, 重要涉密人员1年,
核心涉密人员2年); an officer may set another length within the national legal range.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

from bot.domain.dates import add_months
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


def period_end(approved_on: date, months: int) -> date:
    """The last day of a declassification period of `months` months approved on `approved_on`.

    民法典 第二百零一条: a period counted in months starts the day after the approval (the approval day is not
    counted); 第二百零二条: it ends on the corresponding day of its last month, or on that month's last day when
    it has no such day. Approved 2026-04-08, 6 months end on 2026-10-08; approved 2026-08-31, on 2027-02-28.
    """
    if months < 1:
        raise ValueError(f"脱密期至少为1个月，收到{months}个月")
    return add_months(approved_on, months)


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
