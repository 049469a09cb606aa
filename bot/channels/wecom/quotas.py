"""What WeCom lets an application send, counted on the injected clock (WeCom's documentation, 访问频率限制):

- per member: 30 messages a minute and 1,000 an hour; the excess is dropped without a word (`MemberWindows`);
- per application: 账号上限数 × 200 person-messages a day (a message to one member is one); past it WeCom refuses
  with 45009 for the rest of the natural day, Beijing time (`DailyTotal`);
- a frequency block (45009) lasts 60 seconds when a per-minute limit was hit, 60 minutes for a per-hour one and
  the rest of the day for a daily one; WeCom's answer does not say which, so the channel waits a minute, then
  the rest of the hour, then until midnight, each time the first call after the pause is refused again (`Gate`).
"""

from __future__ import annotations

import bisect
from collections import deque
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PER_MINUTE, PER_HOUR = 30, 1000  # messages to one member; WeCom silently drops the excess
# Proactive messages stop short of the quota, so that a person in a conversation is still answered.
PROACTIVE_PER_MINUTE, PROACTIVE_PER_HOUR = 25, 950
# Our requests reach WeCom after varying delays: counting over slightly longer windows keeps us under its count.
MINUTE = timedelta(seconds=65)
HOUR = timedelta(seconds=3605)
PER_ACCOUNT_A_DAY = 200  # the application's daily total is 账号上限数 × 200 person-messages
# Routine messages (reminders, broadcasts) stop at this share of the daily total: the rest is kept for answers to
# people in a conversation and for leak alerts.
ROUTINE_SHARE = 0.9
BEIJING = ZoneInfo("Asia/Shanghai")  # WeCom's days and its crowded :00 and :30 are Beijing time
BLOCK_MARGIN = timedelta(seconds=5)  # our clock and WeCom's need not agree to the second


class MemberWindows:
    """When each member was sent each message, over the last hour."""

    def __init__(self) -> None:
        self._sent: dict[str, deque[datetime]] = {}

    def reserve(self, user: str, count: int, now: datetime, proactive: bool) -> float:
        """Take `count` messages of the member's quota now and return 0, or return the seconds until they fit."""
        per_minute, per_hour = (PROACTIVE_PER_MINUTE, PROACTIVE_PER_HOUR) if proactive else (PER_MINUTE, PER_HOUR)
        sent = self._sent.setdefault(user, deque())
        while sent and sent[0] <= now - HOUR:
            sent.popleft()
        wait = 0.0
        times = list(sent)
        for window, cap in ((MINUTE, per_minute), (HOUR, per_hour)):
            recent = times[bisect.bisect_right(times, now - window) :]
            excess = min(len(recent), len(recent) + count - cap)
            if excess > 0:
                # The oldest `excess` of them must leave the window first.
                wait = max(wait, (recent[excess - 1] + window - now).total_seconds())
        if wait > 0:
            return wait
        self.record(user, count, now)
        return 0.0

    def record(self, user: str, count: int, at: datetime) -> None:
        self._sent.setdefault(user, deque()).extend([at] * count)

    def release(self, user: str, count: int) -> None:
        """Give back what was reserved for messages WeCom refused."""
        sent = self._sent.get(user)
        for _ in range(min(count, len(sent or ()))):
            assert sent is not None
            sent.pop()


class DailyTotal:
    """Person-messages sent today (Beijing's day) against the application's daily total."""

    def __init__(self) -> None:
        self.day: date | None = None
        self.sent = 0
        self.limit = 0  # 账号上限数 × 200; 0 until known
        self.held_on: date | None = None  # the day routine messages were first held back

    def roll(self, now: datetime) -> date:
        today = now.astimezone(BEIJING).date()
        if today != self.day:
            self.day, self.sent = today, 0
        return today

    def add(self, count: int, now: datetime) -> None:
        self.roll(now)
        self.sent += count

    def release(self, count: int) -> None:
        self.sent = max(0, self.sent - count)

    def routine_room(self, count: int, now: datetime) -> bool:
        """Whether `count` more routine messages keep today's total under its routine share."""
        self.roll(now)
        return self.sent + count <= int(self.limit * ROUTINE_SHARE)

    def reached(self, now: datetime) -> bool:
        self.roll(now)
        return self.limit > 0 and self.sent >= self.limit


class Gate:
    """Closed while WeCom refuses every call (a frequency block, a setup error): no call is made until it opens."""

    def __init__(self) -> None:
        self.until: datetime | None = None
        self._block_started: datetime | None = None  # the first 45009 since the last call that went through
        self._level = 0  # 0: a minute, 1: the rest of the hour, 2: the rest of the day

    def wait(self, now: datetime) -> float:
        """Seconds until calls may be made again (0: now)."""
        if self.until is None or now >= self.until:
            return 0.0
        return (self.until - now).total_seconds()

    def opened(self) -> None:
        """A call went through: whatever blocked us is over, and the next block starts at a minute again."""
        self._block_started, self._level = None, 0

    def block(self, now: datetime, whole_day: bool) -> datetime:
        """A 45009. Refused while closed: a call already in flight, the same block. Refused again on the first
        call after the pause: a longer block. Returns when to try again."""
        if self.wait(now) > 0:
            assert self.until is not None
            return self.until
        if self._block_started is None:
            self._block_started, self._level = now, 0
        else:
            self._level += 1
        if whole_day or self._level >= 2:
            until = next_midnight(now)
        elif self._level == 1:
            until = max(self._block_started + timedelta(hours=1), now + timedelta(minutes=1))
        else:
            until = now + timedelta(minutes=1)
        return self.close(until + BLOCK_MARGIN)

    def close(self, until: datetime) -> datetime:
        if self.until is None or until > self.until:
            self.until = until
        return self.until


def next_midnight(now: datetime) -> datetime:
    """The start of the next natural day in Beijing."""
    local = now.astimezone(BEIJING)
    return datetime.combine(local.date() + timedelta(days=1), time(0), BEIJING)


def busy_minute(now: datetime) -> float:
    """Seconds until the end of the minute if it is :00 or :30 in Beijing (everyone's scheduled pushes crowd
    WeCom then, and it asks applications to avoid them), else 0."""
    local = now.astimezone(BEIJING)
    if local.minute % 30:
        return 0.0
    return 60.0 - local.second - local.microsecond / 1e6
