"""Declassification periods: month arithmetic, period ends and the legal range per level."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.domain.dates import add_months
from bot.domain.declassification import (
    DEFAULT_MONTHS,
    LEGAL_RANGE,
    days_left,
    period_end,
    validate_months,
)
from bot.domain.levels import Level

# --- add_months -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 3, 1), 6, date(2026, 9, 1)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),  # across the year end
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # clamped to the end of a common February
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # clamped to the end of a leap February
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # 29 Feb one year on
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 12, 31), 36, date(2029, 12, 31)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 5, 20), 0, date(2026, 5, 20)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


# --- period_end -------------------------------------------------------------------------------


def test_default_months_follow_the_regulations() -> None:
    assert dict(DEFAULT_MONTHS) == {Level.GENERAL: 6, Level.IMPORTANT: 12, Level.CORE: 24}
    assert Level.NONE not in DEFAULT_MONTHS


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Level.GENERAL, date(2026, 9, 1)),
        (Level.IMPORTANT, date(2027, 3, 1)),
        (Level.CORE, date(2028, 3, 1)),
    ],
)
def test_period_end_for_each_default(level: Level, expected: date) -> None:
    assert period_end(date(2026, 3, 1), DEFAULT_MONTHS[level]) == expected


@pytest.mark.parametrize(
    ("approved", "months", "expected"),
    [
        # issue 15 point 1 (民法典 第二百零一条、第二百零二条): the approval day is not counted and the period
        # ends on the corresponding day; the old rule ended both of the first two a day early.
        (date(2026, 4, 8), 6, date(2026, 10, 8)),
        (date(2025, 1, 10), 24, date(2027, 1, 10)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # no 31 Feb: the month's last day
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 1, 1), 12, date(2027, 1, 1)),
        (date(2026, 3, 15), 36, date(2029, 3, 15)),
    ],
)
def test_period_end_is_the_corresponding_day(approved: date, months: int, expected: date) -> None:
    assert period_end(approved, months) == expected


def test_period_end_is_add_months_for_every_day_of_two_years() -> None:
    day = date(2026, 1, 1)
    while day < date(2028, 1, 1):
        for months in (1, 6, 12, 24, 36):
            end = period_end(day, months)
            assert end == add_months(day, months)
            assert end > day
            if day.day <= 28:
                assert end.day == day.day
        day += timedelta(days=1)


@pytest.mark.parametrize("months", [0, -6])
def test_period_end_rejects_non_positive_months(months: int) -> None:
    with pytest.raises(ValueError, match="至少为1个月"):
        period_end(date(2026, 3, 1), months)


# --- validate_months --------------------------------------------------------------------------


def test_legal_ranges() -> None:
    assert dict(LEGAL_RANGE) == {Level.GENERAL: (6, 12), Level.IMPORTANT: (12, 24), Level.CORE: (24, 36)}


@pytest.mark.parametrize("level", [Level.GENERAL, Level.IMPORTANT, Level.CORE])
def test_validate_months_accepts_defaults_and_bounds(level: Level) -> None:
    low, high = LEGAL_RANGE[level]
    for months in (low, DEFAULT_MONTHS[level], high):
        validate_months(level, months)


@pytest.mark.parametrize(
    ("level", "months", "message"),
    [
        (Level.GENERAL, 5, "一般涉密人员的脱密期应为6至12个月，收到5个月"),
        (Level.GENERAL, 13, "一般涉密人员的脱密期应为6至12个月，收到13个月"),
        (Level.IMPORTANT, 11, "重要涉密人员的脱密期应为12至24个月，收到11个月"),
        (Level.IMPORTANT, 25, "重要涉密人员的脱密期应为12至24个月，收到25个月"),
        (Level.CORE, 23, "核心涉密人员的脱密期应为24至36个月，收到23个月"),
        (Level.CORE, 37, "核心涉密人员的脱密期应为24至36个月，收到37个月"),
        (Level.GENERAL, 0, "一般涉密人员的脱密期应为6至12个月，收到0个月"),
    ],
)
def test_validate_months_rejects_out_of_range(level: Level, months: int, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_months(level, months)
    assert str(excinfo.value) == message


def test_validate_months_rejects_unclassified() -> None:
    with pytest.raises(ValueError, match="非涉密人员没有脱密期"):
        validate_months(Level.NONE, 6)


# --- days_left --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 8, 31), 0),
        (date(2026, 8, 30), 1),
        (date(2026, 3, 1), 183),
        (date(2026, 9, 1), -1),
        (date(2027, 8, 31), -365),
    ],
)
def test_days_left(today: date, expected: int) -> None:
    assert days_left(date(2026, 8, 31), today) == expected
