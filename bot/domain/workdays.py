"""Working days and the working-hours window in which the bot may message people.

The official calendar (statutory holidays and 调休 make-up working days) comes from the
`chinese_calendar` package, whose data only covers the years published so far; for any other
year Monday to Friday are taken as working days, and an officer's overrides beat both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType

import chinese_calendar

_ONE_DAY = timedelta(days=1)


def _official_is_working_day(day: date) -> bool | None:
    """The official answer, or None when the package has no data for that year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class WorkCalendar:
    overrides: Mapping[date, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A read-only copy, so that later edits to the caller's dict cannot change a calendar in use.
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def is_working_day(self, day: date) -> bool:
        override = self.overrides.get(day)
        if override is not None:
            return override
        official = _official_is_working_day(day)
        if official is not None:
            return official
        return day.weekday() < 5

    def is_covered(self, day: date) -> bool:
        """Whether the official holiday data covers the year of `day`."""
        return _official_is_working_day(day) is not None

    def previous_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the nearest earlier one.

        Due dates that fall on a holiday move to the previous working day.
        """
        while not self.is_working_day(day):
            day -= _ONE_DAY
        return day

    def next_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the nearest later one."""
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open range [start, end); negative when end is before start.

        Half-open so that counts add up: between(a, b) + between(b, c) == between(a, c).
        """
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start
        while day < end:
            if self.is_working_day(day):
                count += 1
            day += _ONE_DAY
        return count


@dataclass(frozen=True)
class WorkingHours:
    """Local wall-clock window [start, end) on working days in which messages may be sent."""

    start: time = time(9)
    end: time = time(18)

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"工作时间的开始时刻({self.start:%H:%M})必须早于结束时刻({self.end:%H:%M})")

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


def _require_aware(local_now: datetime) -> None:
    # A naive datetime here is almost always UTC mistaken for local time, which would shift the window.
    if local_now.tzinfo is None or local_now.utcoffset() is None:
        raise ValueError("local_now must be timezone-aware (the bureau's local time zone)")


def is_sendable(local_now: datetime, calendar: WorkCalendar, hours: WorkingHours) -> bool:
    """Whether `local_now` is within working hours on a working day."""
    _require_aware(local_now)
    return calendar.is_working_day(local_now.date()) and hours.contains(local_now.time())


def next_send_time(local_now: datetime, calendar: WorkCalendar, hours: WorkingHours) -> datetime:
    """`local_now` itself if sendable, else the start of the next working-hours window, in the same tz."""
    if is_sendable(local_now, calendar, hours):
        return local_now
    today = local_now.date()
    if calendar.is_working_day(today) and local_now.time() < hours.start:
        day = today
    else:
        day = calendar.next_working_day(today + _ONE_DAY)
    return datetime.combine(day, hours.start, tzinfo=local_now.tzinfo)
