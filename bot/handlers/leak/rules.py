"""Leak reports (泄密事件报告): what a report records and the statutory clocks of a case, as pure rules.

Whoever causes or discovers a leak takes remedial measures and reports at once (保密工作制度 二、涉密人员管理制度
7); for state secrets the unit reports in writing to the 同级保密行政管理部门 and the 上级主管部门 within 24 hours of
discovering it (保密法实施条例（2024）第六十一条) and concludes within 3 months; a missing carrier not found within
10 days (绝密) or 60 days (机密/秘密) is handled as a leak (泄密案件查处办法 第五条). Every clock runs from discovery.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.dates import TypedDay, add_months, parse_day


class Kind(StrEnum):
    """What happened."""

    CARRIER_LOST = "lost"  # carrier lost or missing
    MISSENT = "missent"  # sent or forwarded to a wrong person or over an unprotected channel
    COPIED = "copied"  # copied or photographed without approval
    ONLINE = "online"  # classified information on an internet-connected device or a public network
    TALK = "talk"  # discussed in a public place or on an ordinary phone
    OTHERS = "others"  # someone else's violation
    OTHER = "other"


class Whose(StrEnum):
    MINE = "mine"
    OTHERS = "others"
    FOUND = "found"  # material found, nobody known


class Discovered(StrEnum):
    NOW = "now"
    TODAY = "today"
    EARLIER = "earlier"


class Carrier(StrEnum):
    PAPER = "paper"
    STORAGE = "storage"  # removable storage
    COMPUTER = "computer"
    PHONE = "phone"
    MEDIA = "media"  # optical or magnetic media
    TALK = "talk"  # a conversation: nothing to count
    OTHER = "other"


class Marked(StrEnum):
    """The level marked on the material, as a category only: never the marking itself."""

    TOP_SECRET = "top"  # 绝密
    SECRET = "secret"  # 机密
    CONFIDENTIAL = "conf"  # 秘密
    WORK = "work"  # 工作秘密
    UNMARKED = "none"  # 未标密
    UNKNOWN = "unknown"  # 不清楚


class Measure(StrEnum):
    OFFLINE = "offline"  # 断网
    SEALED = "sealed"  # 封存
    RECOVERED = "recovered"  # 收回
    LEADER = "leader"  # 报告领导
    OTHER = "other"


class Status(StrEnum):
    REPORTED = "reported"  # 已报告
    ACCEPTED = "accepted"  # 已受理
    INVESTIGATING = "investigating"  # 调查中
    CONCLUDED = "concluded"  # 已结案


MAX_PLACE = 50
MAX_NOTE = 100
MAX_MESSAGE = 300
MAX_COUNT = 9999
# Officers are reminded this many hours before the written report is due (12 h and 20 h into 24 h).
WRITTEN_REPORT_REMINDERS_BEFORE = (12, 4)
CONCLUSION_REMINDER_DAYS = 7


def case_number(year: int, seq: int) -> str:
    return f"BM-{year}-{seq:04d}"


# The levels whose loss is a state-secret incident: the 24-hour written report runs only for these. A level the
# reporter does not know is counted among them: the clock errs on the side of the secret.
STATE_SECRETS = frozenset({Marked.TOP_SECRET, Marked.SECRET, Marked.CONFIDENTIAL, Marked.UNKNOWN})


def is_state_secret(level: Marked) -> bool:
    return level in STATE_SECRETS


def discovery_moment(typed: TypedDay, now: datetime, tz: ZoneInfo) -> datetime:
    """When it was discovered, from what the reporter typed: the time of day they said; a day alone is taken at its
    end (today: now), the latest moment it can mean, so that neither a clock nor the late flag blames a reporter
    for hours they did not say."""
    if typed.time is not None:
        return min(typed.at(tz), now)
    if typed.day >= now.astimezone(tz).date():
        return now
    return datetime.combine(typed.day + timedelta(days=1), time(0), tz)


def written_report_due(discovered_at: datetime, hours: int, level: Marked) -> datetime | None:
    """保密法实施条例（2024）第六十一条: the written report is due `hours` (24) after discovery, for state secrets
    only; 工作秘密 and unmarked material run no such clock (None)."""
    return discovered_at + timedelta(hours=hours) if is_state_secret(level) else None


def reported_late(discovered_at: datetime, reported_at: datetime, hours: int) -> bool:
    """Reported to the office more than `hours` (24) after discovery: the unit's own 24-hour report can no longer
    be met, and the case says so (涉密人员 … 必须采取补救措施并及时报告，不得隐瞒)."""
    return reported_at - discovered_at > timedelta(hours=hours)


def conclusion_due(discovered_at: datetime, months: int) -> datetime:
    """The conclusion is due `months` (3) after discovery, on the corresponding day (民法典 第二百零二条,
    bot.domain.dates.add_months)."""
    return add_months(discovered_at, months)


def carrier_days(kind: Kind, level: Marked, top_secret_days: int, other_days: int) -> int | None:
    """Days a missing carrier may stay missing before it is handled as a leak; None when no such clock runs.

    A level the reporter does not know is treated as 绝密: the shorter clock errs on the side of the secret.
    工作秘密 and unmarked material are not state secrets, so the statutory clock does not apply."""
    if kind is not Kind.CARRIER_LOST:
        return None
    if level in (Marked.TOP_SECRET, Marked.UNKNOWN):
        return top_secret_days
    if level in (Marked.SECRET, Marked.CONFIDENTIAL):
        return other_days
    return None


def carrier_deadline(discovered_on: date, days: int, tz: ZoneInfo) -> datetime:
    """The instant a carrier still missing counts as leaked: the end of the last of `days` days after discovery."""
    return datetime.combine(discovered_on + timedelta(days=days + 1), time(0), tz)


def next_deadline(
    written_due: datetime | None, carrier_due: datetime | None, conclusion: datetime | None
) -> datetime | None:
    """The soonest clock still running (None for a clock already met)."""
    running = [d for d in (written_due, carrier_due, conclusion) if d is not None]
    return min(running) if running else None


ALERT_FAST = timedelta(hours=2)  # repeats every `leak_alert_repeat_minutes` this long, then hourly
ALERT_SLOW = timedelta(hours=1)
ESCALATE_TO_LEADERS = timedelta(hours=1)  # unacknowledged this long: the leadership is told


def alert_round(reported_at: datetime, now: datetime, repeat_minutes: int) -> int:
    """How many repeats an unacknowledged alert is due (0: none yet): one every `repeat_minutes` for the first two
    hours, then one an hour, so that nobody learns to mute the bot."""
    if repeat_minutes <= 0 or now <= reported_at:
        return 0
    waited, every = now - reported_at, timedelta(minutes=repeat_minutes)
    if waited < ALERT_FAST:
        return int(waited / every)
    return int(ALERT_FAST / every) + int((waited - ALERT_FAST) / ALERT_SLOW)


def waited_minutes(reported_at: datetime, now: datetime) -> int:
    return max(0, int((now - reported_at).total_seconds() // 60))


def written_report_step(due: datetime, now: datetime, hours: int) -> str | None:
    """The latest reminder of the written-report clock that is due: "12h", "20h" (for a 24-hour clock) or
    "overdue"; None before the first. Only the latest is sent, so a bot that was down does not send them all."""
    if now >= due:
        return "overdue"
    for before in sorted(WRITTEN_REPORT_REMINDERS_BEFORE):
        if now >= due - timedelta(hours=before):
            return f"{hours - before}h"
    return None


def conclusion_step(due: datetime, now: datetime) -> str | None:
    if now >= due:
        return "overdue"
    if now >= due - timedelta(days=CONCLUSION_REMINDER_DAYS):
        return f"d-{CONCLUSION_REMINDER_DAYS}"
    return None


# An older discovery is still reportable, but a date further back is almost certainly a typing mistake.
MAX_DAYS_BACK = 3 * 366


def parse_discovery(text: str, today: date, now: time | None = None) -> TypedDay | None:
    """When it was discovered, as people type it (bot.domain.dates.parse_day: 2026-03-01, 3月1日, 上周五, 昨天下午);
    None when it is not a day, lies in the future or is more than about three years back. `now` (the time of day
    today) refuses a time later today."""
    typed = parse_day(text, today)
    if typed is None or typed.day > today or (today - typed.day).days > MAX_DAYS_BACK:
        return None
    if typed.day == today and typed.time is not None and now is not None and typed.time > now:
        return None
    return typed


def parse_count(text: str) -> int | None:
    normal = unicodedata.normalize("NFKC", text).strip().rstrip("个份件台部张本").strip()
    if not normal.isdigit():
        return None
    value = int(normal)
    return value if 1 <= value <= MAX_COUNT else None
