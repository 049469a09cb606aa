"""The one reader of typed dates (bot.domain.dates.parse_day): absolute and relative days, with or without a time."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.dates import TypedDay, parse_day

TODAY = date(2026, 12, 3)  # a Thursday
TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-09-15", TypedDay(date(2026, 9, 15))),
        ("2026/9/15", TypedDay(date(2026, 9, 15))),
        ("2026.9.15", TypedDay(date(2026, 9, 15))),
        ("2026年9月15日", TypedDay(date(2026, 9, 15))),
        ("２０２６－０９－１５", TypedDay(date(2026, 9, 15))),  # full-width, as phones type it
        ("9月15日", TypedDay(date(2026, 9, 15))),
        ("9月15号", TypedDay(date(2026, 9, 15))),
        ("3月1日", TypedDay(date(2026, 3, 1))),
        ("3/1", TypedDay(date(2026, 3, 1))),
        ("12月30日", TypedDay(date(2025, 12, 30))),  # no year: the latest such day, last December
        ("今天", TypedDay(TODAY)),
        ("昨天", TypedDay(date(2026, 12, 2))),
        ("前天", TypedDay(date(2026, 12, 1))),
        ("大前天", TypedDay(date(2026, 11, 30))),
        ("3天前", TypedDay(date(2026, 11, 30))),
        ("三天前", TypedDay(date(2026, 11, 30))),
        ("上周五", TypedDay(date(2026, 11, 27))),
        ("上星期五", TypedDay(date(2026, 11, 27))),
        ("上周日", TypedDay(date(2026, 11, 29))),  # weeks start on Monday
        ("本周一", TypedDay(date(2026, 11, 30))),
        ("这周二", TypedDay(date(2026, 12, 1))),
        ("周五", TypedDay(date(2026, 11, 27))),  # the latest Friday
        ("星期四", TypedDay(TODAY)),
        ("下周三", TypedDay(date(2026, 12, 9))),
        ("昨天下午", TypedDay(date(2026, 12, 2), time(12))),  # a part of the day is taken at its start
        ("昨天 下午", TypedDay(date(2026, 12, 2), time(12))),
        ("昨天晚上", TypedDay(date(2026, 12, 2), time(18))),
        ("今天上午", TypedDay(TODAY, time(8))),
        ("昨天下午3点", TypedDay(date(2026, 12, 2), time(15))),
        ("昨天下午三点半", TypedDay(date(2026, 12, 2), time(15, 30))),
        ("前天晚上8点", TypedDay(date(2026, 12, 1), time(20))),
        ("上周五上午10点", TypedDay(date(2026, 11, 27), time(10))),
        ("3月1日下午2点15分", TypedDay(date(2026, 3, 1), time(14, 15))),
        ("2026-09-15 14:30", TypedDay(date(2026, 9, 15), time(14, 30))),
        ("2026-09-15 14：30", TypedDay(date(2026, 9, 15), time(14, 30))),
        ("下午两点", TypedDay(TODAY, time(14))),  # a time alone is today's
        ("15:30", TypedDay(TODAY, time(15, 30))),
        ("凌晨2点", TypedDay(TODAY, time(2))),
        ("中午12点", TypedDay(TODAY, time(12))),
        ("中午1点", TypedDay(TODAY, time(13))),
        ("2026-02-30", None),
        ("2月29日", None),  # 2026 and 2025 have none
        ("13月1日", None),
        ("昨天25点", None),
        ("昨天下雨", None),
        ("上周", None),
        ("abc", None),
        ("", None),
    ],
)
def test_parse_day(typed: str, expected: TypedDay | None) -> None:
    assert parse_day(typed, TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12月30日", date(2026, 12, 30)),
        ("1月5日", date(2027, 1, 5)),  # planning in December: next January
        ("3月1日", date(2027, 3, 1)),
        ("周五", date(2026, 12, 4)),
        ("星期四", TODAY),
        ("明天", date(2026, 12, 4)),
        ("后天", date(2026, 12, 5)),
        ("3天后", date(2026, 12, 6)),
    ],
)
def test_parse_day_ahead(typed: str, expected: date) -> None:
    parsed = parse_day(typed, TODAY, ahead=True)
    assert parsed is not None and parsed.day == expected


def test_has_time_and_the_moment_meant() -> None:
    with_time = parse_day("昨天下午3点", TODAY)
    without = parse_day("昨天", TODAY)
    assert with_time is not None and without is not None
    assert (with_time.has_time, without.has_time) == (True, False)
    assert with_time.at(TZ) == datetime(2026, 12, 2, 15, tzinfo=TZ)
    assert without.at(TZ) == datetime(2026, 12, 2, tzinfo=TZ)
