"""Dates: the one month arithmetic of every period in the product, and reading dates as people type them."""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
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


# --- reading a day (and a time of day) as people type it ------------------------------------------------------


@dataclass(frozen=True)
class TypedDay:
    """A day someone typed, and the time of day when they said one (下午, 15:30, 3点半); None when they did not.

    A part of the day alone (上午, 下午, 晚上) is taken at its start, so a clock counted from it never starts late."""

    day: date
    time: time | None = None

    @property
    def has_time(self) -> bool:
        return self.time is not None

    def at(self, tz: tzinfo) -> datetime:
        """The moment meant: the time of day said, or the day's start when none was."""
        return datetime.combine(self.day, self.time or time(0), tz)


_NUMERALS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = r"(\d{1,3}|[零〇一二两三四五六七八九十]{1,3})"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_RELATIVE_DAYS = {
    "大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "yesterday": -1, "今天": 0, "今日": 0, "today": 0,
    "明天": 1, "明日": 1, "tomorrow": 1, "后天": 2, "大后天": 3,
}  # fmt: skip
# Where a part of the day starts; 下午 and 中午 start at noon, so "下午3点" is 15:00.
_PARTS = {
    "凌晨": 0, "半夜": 0, "早上": 6, "早晨": 6, "清晨": 6, "上午": 8, "中午": 12, "午后": 12, "下午": 12,
    "傍晚": 17, "晚上": 18, "夜里": 18, "夜间": 18, "晚间": 18,
}  # fmt: skip
_AFTERNOON = {"中午", "午后", "下午", "傍晚", "晚上", "夜里", "夜间", "晚间"}

_FULL = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})[日号]?")
_WEEK = re.compile(r"^(上上|上|本|这|下|)(?:个)?(?:周|星期|礼拜)([一二三四五六日天七1-7])")
_DAYS_AGO = re.compile(rf"^{_NUMBER}天(前|以前|之前|后|以后|之后)")
_CLOCK = re.compile(r"^(\d{1,2})[:：](\d{2})$")
_HOUR = re.compile(rf"^{_NUMBER}(?:点|时)(?:(半)|{_NUMBER}分?|整)?(?:钟)?$")


def _number(text: str) -> int | None:
    """12, 十二, 两, 二十三: a small number in digits or Chinese numerals."""
    if text.isdigit():
        return int(text)
    if text in _NUMERALS:
        return _NUMERALS[text]
    tens, _, ones = text.partition("十")
    if "十" not in text or not all(c in _NUMERALS for c in tens + ones) or len(tens) > 1 or len(ones) > 1:
        return None
    return (_NUMERALS[tens] if tens else 1) * 10 + (_NUMERALS[ones] if ones else 0)


def _year_less(month: int, day: int, today: date, ahead: bool) -> date | None:
    """Without a year the nearest such day is meant: the latest not after today, or with `ahead` the first not
    before it (12月30日 typed in January is last December; 1月5日 typed in December, when planning, next January)."""
    step = 1 if ahead else -1
    for year in (today.year, today.year + step):
        try:
            value = date(year, month, day)
        except ValueError:
            continue
        if (value >= today) if ahead else (value <= today):
            return value
    return None


def _weekday(prefix: str, weekday: int, today: date, ahead: bool) -> date:
    """上周五 is the Friday of last week (weeks start on Monday), 本周五 this week's, 下周五 next week's; a bare
    周五 is the latest Friday not after today, or with `ahead` the first not before it."""
    monday = today - timedelta(days=today.weekday())
    weeks = {"上上": -2, "上": -1, "本": 0, "这": 0, "下": 1}
    if prefix:
        return monday + timedelta(weeks=weeks[prefix], days=weekday)
    shift = (weekday - today.weekday()) % 7 if ahead else -((today.weekday() - weekday) % 7)
    return today + timedelta(days=shift)


def _time_of_day(text: str) -> time | bool | None:
    """The time of day in what follows the day: a time, None when nothing follows, False when it is not one."""
    part = next((p for p in sorted(_PARTS, key=len, reverse=True) if text.startswith(p)), None)
    rest = text[len(part) :] if part else text
    if not rest:
        return None if part is None else time(_PARTS[part])
    hour: int | None
    minute: int | None
    if match := _CLOCK.match(rest):
        hour, minute = int(match[1]), int(match[2])
    elif match := _HOUR.match(rest):
        hour = _number(match[1])
        minute = 30 if match[2] else (_number(match[3]) if match[3] else 0)
    else:
        return False
    if hour is None or minute is None:
        return False
    if part in _AFTERNOON and 1 <= hour < 12 and not (part == "中午" and hour >= 11):
        hour += 12
    if part in ("凌晨", "半夜") and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return False
    return time(hour, minute)


def parse_day(text: str, today: date, *, ahead: bool = False) -> TypedDay | None:
    """The one reader of typed dates: 2026-09-15, 2026/9/15, 2026年9月15日, 9月15日, 9/15, 今天, 昨天, 前天, 明天,
    3天前, 上周五, 本周一, 下周三, 周五, each optionally followed by a time of day (下午, 昨天下午, 上午10点,
    下午3点半, 15:30); a time alone (下午3点) is today's. None when it is not a date or not a real day.

    Without a year (9月15日, 周五) the nearest such day is meant: in the past, or with `ahead` in the future.
    Whether the day is in a range that makes sense (not in the future for a discovery, within the year for a
    planned publication) is the caller's rule."""
    normal = unicodedata.normalize("NFKC", text).strip().lower()
    normal = re.sub(r"\s+", "", normal)
    if not normal:
        return None
    day: date | None
    if match := _FULL.match(normal):
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
        rest = normal[match.end() :]
    elif match := _MONTH_DAY.match(normal):
        day = _year_less(int(match[1]), int(match[2]), today, ahead)
        rest = normal[match.end() :]
    elif match := _WEEK.match(normal):
        weekday = _WEEKDAYS.get(match[2], int(match[2]) - 1 if match[2].isdigit() else 0)
        day = _weekday(match[1], weekday, today, ahead)
        rest = normal[match.end() :]
    elif match := _DAYS_AGO.match(normal):
        count = _number(match[1])
        if count is None:
            return None
        day = today + timedelta(days=count if match[2].endswith("后") else -count)
        rest = normal[match.end() :]
    elif word := next((w for w in sorted(_RELATIVE_DAYS, key=len, reverse=True) if normal.startswith(w)), None):
        day = today + timedelta(days=_RELATIVE_DAYS[word])
        rest = normal[len(word) :]
    else:
        day, rest = today, normal
        if _time_of_day(rest) in (None, False):
            return None
    if day is None:
        return None
    said = _time_of_day(rest)
    if said is False:
        return None
    return TypedDay(day, said if isinstance(said, time) else None)
