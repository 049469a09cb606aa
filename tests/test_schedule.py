"""The duty calendar: half-years, kick-off on working days, inventory periods, reminder steps."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.schedule import (
    applicable_step,
    due_date,
    half_year,
    half_year_kickoff,
    inventory_period,
    previous_half_year,
)
from bot.domain.workdays import WorkCalendar

CAL = WorkCalendar()
STARTS = ((1, 5), (7, 5))


def test_half_years() -> None:
    assert half_year(date(2026, 3, 2)).label == "2026H1"
    assert half_year(date(2026, 6, 30)).end == date(2026, 6, 30)
    assert half_year(date(2026, 7, 1)).label == "2026H2"
    assert previous_half_year(half_year(date(2026, 3, 2))).label == "2025H2"
    assert previous_half_year(half_year(date(2026, 8, 2))).label == "2026H1"


def test_kickoff_is_the_first_working_day_on_or_after_the_start() -> None:
    # 5 January 2026 is a Monday; 5 July 2026 is a Sunday, so the kick-off is Monday 6 July.
    assert half_year_kickoff(half_year(date(2026, 2, 1)), STARTS, CAL) == date(2026, 1, 5)
    assert half_year_kickoff(half_year(date(2026, 9, 1)), STARTS, CAL) == date(2026, 7, 6)


def test_inventory_periods() -> None:
    assert inventory_period([(12, 20)], date(2026, 3, 1)) == ("2026", date(2026, 12, 20))
    assert inventory_period([(12, 20)], date(2026, 12, 28)) == ("2026", date(2026, 12, 20))
    assert inventory_period([(6, 30), (12, 20)], date(2026, 3, 1)) == ("2026-06", date(2026, 6, 30))
    assert inventory_period([(6, 30), (12, 20)], date(2026, 7, 1)) == ("2026-12", date(2026, 12, 20))


def test_due_dates_move_to_the_previous_working_day() -> None:
    # 20 December 2026 is a Sunday.
    assert due_date(date(2026, 12, 20), CAL) == date(2026, 12, 18)
    # 3 October 2026 falls in the National Day holiday; 30 September is the last working day before it.
    assert due_date(date(2026, 10, 3), CAL) == date(2026, 9, 30)


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(45, None), (30, 30), (29, 30), (14, 14), (8, 14), (7, 7), (2, 7), (1, 1), (0, 1), (-1, None)],
)
def test_applicable_step(days_left: int, expected: int | None) -> None:
    assert applicable_step(days_left, (30, 14, 7, 1)) == expected
