"""Renewals: every cycle each person signs the yearly pledge and passes the quiz. When a cycle opens everyone
is asked once; whoever has not done it by the deadline is reminded once a week (their head gets the list), and
a weekly reminder can be put off once by a few days without moving the weekly schedule. Pure date arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Item(StrEnum):
    PLEDGE = "pledge"  # the yearly pledge (保密承诺书)
    QUIZ = "quiz"  # the yearly quiz (保密知识答卷)


@dataclass(frozen=True)
class Deadlines:
    pledge: date
    quiz: date

    def of(self, item: Item) -> date:
        return self.pledge if item is Item.PLEDGE else self.quiz


def overdue_week(due: date, day: date, every_days: int) -> int | None:
    """Which weekly reminder is due on `day` (0 for the first week after the deadline); None before it. Only the
    current week's reminder is ever sent: after downtime a missed week is not sent late."""
    if day <= due:
        return None
    return (day - due - timedelta(days=1)).days // every_days


def week_start(due: date, week: int, every_days: int) -> date:
    return due + timedelta(days=1 + week * every_days)


def snooze_pointless(due: date, week: int, every_days: int, until: date) -> bool:
    """A put-off reminder that would arrive in the next week adds nothing: that week's reminder goes out anyway."""
    return until >= week_start(due, week + 1, every_days)
