"""The leak cases' pure rules: statutory clocks, reminder steps, what a reporter may type as a date or count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.dates import add_months
from bot.handlers.leak.rules import (
    Kind,
    Marked,
    alert_round,
    carrier_days,
    carrier_deadline,
    case_number,
    conclusion_step,
    next_deadline,
    parse_count,
    parse_discovery,
    written_report_step,
)
from tests.conftest import TZ

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
TODAY = date(2026, 3, 2)


def test_case_numbers_are_per_year_and_zero_padded() -> None:
    assert case_number(2026, 1) == "BM-2026-0001"
    assert case_number(2027, 12345) == "BM-2027-12345"


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 3, 2, 9, tzinfo=TZ), 3, datetime(2026, 6, 2, 9, tzinfo=TZ)),
        (datetime(2026, 11, 30, tzinfo=TZ), 3, datetime(2027, 2, 28, tzinfo=TZ)),
        (datetime(2027, 11, 30, tzinfo=TZ), 3, datetime(2028, 2, 29, tzinfo=TZ)),
        (datetime(2026, 12, 31, tzinfo=TZ), 1, datetime(2027, 1, 31, tzinfo=TZ)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("kind", "level", "days"),
    [
        (Kind.CARRIER_LOST, Marked.TOP_SECRET, 10),
        (Kind.CARRIER_LOST, Marked.UNKNOWN, 10),
        (Kind.CARRIER_LOST, Marked.SECRET, 60),
        (Kind.CARRIER_LOST, Marked.CONFIDENTIAL, 60),
        (Kind.CARRIER_LOST, Marked.WORK, None),
        (Kind.CARRIER_LOST, Marked.UNMARKED, None),
        (Kind.MISSENT, Marked.TOP_SECRET, None),
    ],
)
def test_missing_carrier_clock_depends_on_the_level(kind: Kind, level: Marked, days: int | None) -> None:
    assert carrier_days(kind, level, 10, 60) == days


def test_carrier_deadline_is_the_end_of_the_last_day() -> None:
    assert carrier_deadline(date(2026, 3, 2), 10, TZ) == datetime(2026, 3, 13, tzinfo=TZ)


def test_alert_rounds_count_whole_periods() -> None:
    assert [alert_round(T0, T0 + timedelta(minutes=m), 15) for m in (0, 14, 15, 29, 30, 61)] == [0, 0, 1, 1, 2, 4]
    assert alert_round(T0, T0 + timedelta(hours=1), 0) == 0
    # Every 15 minutes for two hours (8 rounds), then hourly: a preview of a month has hundreds, not thousands.
    assert [alert_round(T0, T0 + timedelta(minutes=m), 15) for m in (119, 120, 179, 180, 240)] == [7, 8, 8, 9, 10]
    assert alert_round(T0, T0 + timedelta(days=30), 15) == 8 + 30 * 24 - 2


def test_written_report_reminders_at_12_and_20_hours_then_overdue() -> None:
    steps = [
        written_report_step(T0 + timedelta(hours=24), T0 + timedelta(hours=h), 24)
        for h in (0, 11.9, 12, 19.9, 20, 23.9, 24, 30)
    ]
    assert steps == [None, None, "12h", "12h", "20h", "20h", "overdue", "overdue"]


def test_conclusion_reminder_a_week_before_then_overdue() -> None:
    due = T0 + timedelta(days=92)
    assert [conclusion_step(due, due - timedelta(days=d)) for d in (8, 7, 1, 0)] == [None, "d-7", "d-7", "overdue"]


def test_next_deadline_skips_clocks_already_met() -> None:
    assert next_deadline(None, T0, T0 + timedelta(days=1)) == T0
    assert next_deadline(None, None, None) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-03-01", date(2026, 3, 1)),
        ("2026年3月1日", date(2026, 3, 1)),
        ("２０２６／３／１", date(2026, 3, 1)),
        ("3月1日", date(2026, 3, 1)),
        ("3.2", date(2026, 3, 2)),
        ("12月30日", date(2025, 12, 30)),  # the most recent one: last December
        ("昨天", date(2026, 3, 1)),
        ("前天", date(2026, 2, 28)),
        ("2026-03-03", None),  # tomorrow
        ("2026-02-30", None),
        ("2022-01-01", None),  # years back: a typing mistake
        ("上周", None),
        ("", None),
    ],
)
def test_parse_discovery(typed: str, expected: date | None) -> None:
    parsed = parse_discovery(typed, TODAY)
    assert (parsed and parsed.day) == expected


@pytest.mark.parametrize(
    ("typed", "expected"), [("2", 2), ("12份", 12), ("３", 3), ("0", None), ("10000", None), ("两", None)]
)
def test_parse_count(typed: str, expected: int | None) -> None:
    assert parse_count(typed) == expected
