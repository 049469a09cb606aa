"""Working days, quiet hours and the next moment a message may go out.

The 2026 dates are those of the State Council's holiday notice as shipped in chinese_calendar:
Spring Festival 15–23 Feb with 14 Feb (Sat) and 28 Feb (Sat) worked, Mid-Autumn 25–27 Sep,
National Day 1–7 Oct with 20 Sep (Sun) and 10 Oct (Sat) worked.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.domain.workdays import WorkCalendar, WorkingHours, is_sendable, next_send_time

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICIAL = WorkCalendar()
HOURS = WorkingHours()


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# --- the official 2026 calendar ---------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 10, d) for d in range(1, 8)])
def test_national_day_2026_holiday_is_not_working(day: date) -> None:
    assert not OFFICIAL.is_working_day(day)


@pytest.mark.parametrize("day", [date(2026, 2, d) for d in range(15, 24)])
def test_spring_festival_2026_holiday_is_not_working(day: date) -> None:
    assert not OFFICIAL.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 2, 14),  # Saturday before Spring Festival
        date(2026, 2, 28),  # Saturday after Spring Festival
        date(2026, 9, 20),  # Sunday before National Day
        date(2026, 10, 10),  # Saturday after National Day
    ],
)
def test_tiaoxiu_weekend_day_2026_is_working(day: date) -> None:
    assert day.weekday() >= 5
    assert OFFICIAL.is_working_day(day)


def test_mid_autumn_friday_2026_is_not_working() -> None:
    assert date(2026, 9, 25).weekday() == 4
    assert not OFFICIAL.is_working_day(date(2026, 9, 25))


def test_ordinary_2026_week() -> None:
    assert OFFICIAL.is_working_day(date(2026, 3, 6))  # Friday
    assert not OFFICIAL.is_working_day(date(2026, 3, 7))  # Saturday
    assert not OFFICIAL.is_working_day(date(2026, 3, 8))  # Sunday
    assert OFFICIAL.is_working_day(date(2026, 10, 8))  # Thursday right after National Day


# --- coverage and the Monday–Friday fallback --------------------------------------------------


def test_is_covered() -> None:
    assert OFFICIAL.is_covered(date(2026, 12, 31))
    assert OFFICIAL.is_covered(date(2004, 1, 1))
    assert not OFFICIAL.is_covered(date(2003, 12, 31))
    assert not OFFICIAL.is_covered(date(2035, 10, 1))


def test_uncovered_year_falls_back_to_monday_to_friday() -> None:
    # 1 Jan 2035 is a Monday; without official data even New Year's Day counts as a working day.
    monday = date(2035, 1, 1)
    assert monday.weekday() == 0
    week = [OFFICIAL.is_working_day(monday + timedelta(days=i)) for i in range(7)]
    assert week == [True, True, True, True, True, False, False]


def test_uncovered_national_day_is_not_a_holiday_in_the_fallback() -> None:
    assert OFFICIAL.is_working_day(date(2035, 10, 1))  # a Monday
    assert OFFICIAL.next_working_day(date(2035, 10, 6)) == date(2035, 10, 8)  # Saturday -> Monday


# --- overrides --------------------------------------------------------------------------------


def test_overrides_beat_official_data_and_fallback() -> None:
    calendar = WorkCalendar(
        overrides={
            date(2026, 10, 5): True,  # official holiday made a working day
            date(2026, 9, 20): False,  # official 调休 Sunday given off
            date(2026, 3, 9): False,  # ordinary Monday given off
            date(2035, 1, 6): True,  # Saturday in an uncovered year
        }
    )
    assert calendar.is_working_day(date(2026, 10, 5))
    assert not calendar.is_working_day(date(2026, 9, 20))
    assert not calendar.is_working_day(date(2026, 3, 9))
    assert calendar.is_working_day(date(2035, 1, 6))
    assert not calendar.is_working_day(date(2026, 10, 6))  # days without an override keep the official answer
    assert calendar.previous_working_day(date(2026, 10, 7)) == date(2026, 10, 5)


def test_overrides_are_copied_at_construction() -> None:
    overrides = {date(2026, 10, 5): True}
    calendar = WorkCalendar(overrides=overrides)
    overrides[date(2026, 10, 5)] = False
    overrides[date(2026, 10, 6)] = True
    assert calendar.is_working_day(date(2026, 10, 5))
    assert not calendar.is_working_day(date(2026, 10, 6))


# --- moving dates to working days -------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 10, 4), date(2026, 9, 30)),  # inside National Day -> last day before it
        (date(2026, 10, 1), date(2026, 9, 30)),
        (date(2026, 9, 27), date(2026, 9, 24)),  # Mid-Autumn Sunday -> Thursday before
        (date(2026, 2, 20), date(2026, 2, 14)),  # inside Spring Festival -> the 调休 Saturday
        (date(2026, 3, 8), date(2026, 3, 6)),  # ordinary Sunday -> Friday
        (date(2026, 10, 8), date(2026, 10, 8)),  # a working day stays put
    ],
)
def test_previous_working_day(day: date, expected: date) -> None:
    assert OFFICIAL.previous_working_day(day) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 10, 1), date(2026, 10, 8)),
        (date(2026, 9, 19), date(2026, 9, 20)),  # Saturday -> the 调休 Sunday
        (date(2026, 2, 15), date(2026, 2, 24)),
        (date(2026, 3, 7), date(2026, 3, 9)),
        (date(2026, 3, 9), date(2026, 3, 9)),
    ],
)
def test_next_working_day(day: date, expected: date) -> None:
    assert OFFICIAL.next_working_day(day) == expected


# --- counting working days --------------------------------------------------------------------


def test_working_days_between_around_national_day() -> None:
    # [28 Sep, 12 Oct): 28, 29, 30 Sep, 8, 9 Oct and the 调休 Saturday 10 Oct.
    assert OFFICIAL.working_days_between(date(2026, 9, 28), date(2026, 10, 12)) == 6


def test_working_days_between_around_spring_festival() -> None:
    # [9 Feb, 2 Mar): 9–13 Feb, 14 Feb (Sat), 24–27 Feb, 28 Feb (Sat).
    assert OFFICIAL.working_days_between(date(2026, 2, 9), date(2026, 3, 2)) == 11


def test_working_days_between_is_half_open_and_antisymmetric() -> None:
    monday, tuesday = date(2026, 3, 9), date(2026, 3, 10)
    assert OFFICIAL.working_days_between(monday, monday) == 0
    assert OFFICIAL.working_days_between(monday, tuesday) == 1
    assert OFFICIAL.working_days_between(tuesday, monday) == -1
    start, middle, end = date(2026, 9, 1), date(2026, 10, 3), date(2026, 11, 1)
    whole = OFFICIAL.working_days_between(start, end)
    assert whole == OFFICIAL.working_days_between(start, middle) + OFFICIAL.working_days_between(middle, end)
    assert OFFICIAL.working_days_between(end, start) == -whole


def test_working_days_between_honours_overrides() -> None:
    calendar = WorkCalendar(overrides={date(2026, 10, 2): True})
    assert calendar.working_days_between(date(2026, 10, 1), date(2026, 10, 8)) == 1


# --- sending window ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 3, 6, 18, 30), local(2026, 3, 9, 9)),  # Friday evening -> Monday
        (local(2026, 2, 13, 18, 30), local(2026, 2, 14, 9)),  # Friday evening -> 调休 Saturday
        (local(2026, 10, 9, 18, 30), local(2026, 10, 10, 9)),  # Friday evening -> 调休 Saturday
        (local(2026, 9, 18, 18, 30), local(2026, 9, 20, 9)),  # Friday evening -> 调休 Sunday
        (local(2026, 3, 9, 7, 15), local(2026, 3, 9, 9)),  # before 9 on a working day
        (local(2026, 3, 9, 0, 0), local(2026, 3, 9, 9)),
        (local(2026, 10, 3, 12, 0), local(2026, 10, 8, 9)),  # inside National Day
        (local(2026, 10, 1, 8, 0), local(2026, 10, 8, 9)),  # before 9 on a holiday
        (local(2026, 9, 30, 18, 0), local(2026, 10, 8, 9)),  # 18:00 is already outside
        (local(2026, 2, 16, 10, 0), local(2026, 2, 24, 9)),  # inside Spring Festival
    ],
)
def test_next_send_time_outside_window(now: datetime, expected: datetime) -> None:
    result = next_send_time(now, OFFICIAL, HOURS)
    assert result == expected
    assert result.tzinfo is SHANGHAI
    assert result.utcoffset() == timedelta(hours=8)
    assert not is_sendable(now, OFFICIAL, HOURS)
    assert is_sendable(result, OFFICIAL, HOURS)


@pytest.mark.parametrize(
    "now",
    [
        local(2026, 3, 9, 9, 0),
        local(2026, 3, 9, 13, 45),
        datetime(2026, 3, 9, 17, 59, 59, tzinfo=SHANGHAI),
        local(2026, 2, 14, 10, 0),  # 调休 Saturday
    ],
)
def test_next_send_time_inside_window_is_now(now: datetime) -> None:
    assert is_sendable(now, OFFICIAL, HOURS)
    assert next_send_time(now, OFFICIAL, HOURS) is now


def test_is_sendable_outside_window() -> None:
    assert not is_sendable(local(2026, 3, 9, 8, 59), OFFICIAL, HOURS)
    assert not is_sendable(local(2026, 3, 9, 18, 0), OFFICIAL, HOURS)
    assert not is_sendable(local(2026, 3, 7, 10, 0), OFFICIAL, HOURS)  # ordinary Saturday
    assert not is_sendable(local(2026, 10, 5, 10, 0), OFFICIAL, HOURS)  # weekday inside National Day


def test_next_send_time_keeps_a_fixed_offset_zone() -> None:
    utc8 = timezone(timedelta(hours=8))
    now = datetime(2026, 3, 6, 20, 0, tzinfo=utc8)
    result = next_send_time(now, OFFICIAL, HOURS)
    assert result == datetime(2026, 3, 9, 9, 0, tzinfo=utc8)
    assert result.tzinfo is utc8


def test_next_send_time_uses_custom_hours_and_overrides() -> None:
    hours = WorkingHours(start=time(8, 30), end=time(17, 30))
    calendar = WorkCalendar(overrides={date(2026, 3, 9): False})
    assert next_send_time(local(2026, 3, 6, 17, 30), calendar, hours) == local(2026, 3, 10, 8, 30)
    assert next_send_time(local(2026, 3, 10, 8, 0), calendar, hours) == local(2026, 3, 10, 8, 30)
    assert is_sendable(local(2026, 3, 10, 17, 29), calendar, hours)


def test_next_send_time_in_uncovered_year_uses_fallback() -> None:
    assert next_send_time(local(2035, 1, 5, 19, 0), OFFICIAL, HOURS) == local(2035, 1, 8, 9)


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_send_time(datetime(2026, 3, 9, 10, 0), OFFICIAL, HOURS)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_sendable(datetime(2026, 3, 9, 10, 0), OFFICIAL, HOURS)


@pytest.mark.parametrize(("start", "end"), [(time(18), time(9)), (time(9), time(9))])
def test_working_hours_must_start_before_they_end(start: time, end: time) -> None:
    with pytest.raises(ValueError, match="必须早于结束时刻"):
        WorkingHours(start=start, end=end)
