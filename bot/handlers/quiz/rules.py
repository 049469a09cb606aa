"""Rules of the training quiz (保密知识答卷) beyond the bank: the cycle, grading, the speed flag, cooldowns.

Pure functions: every instant is passed in.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Outcome(StrEnum):
    """What a paper amounts to, as people are told it (texts: quiz/outcome)."""

    EXCELLENT = "excellent"
    PASSED = "passed"
    FAILED = "failed"
    EXPIRED = "expired"  # the time limit ran out before the last answer
    PENDING = "pending"  # finished too fast: waits for an officer
    REJECTED = "rejected"  # finished too fast and not accepted by an officer


def cycle_of(now: datetime, timezone: ZoneInfo) -> int:
    """The quiz cycle is the calendar year in the bureau's time zone."""
    return now.astimezone(timezone).year


def is_too_fast(started_at: datetime, finished_at: datetime, questions: int, min_seconds_per_question: float) -> bool:
    """Auto-clicking tools answer far faster than anyone can read: under the average minimum is flagged."""
    return (finished_at - started_at).total_seconds() < questions * min_seconds_per_question


def outcome(*, status: str, score: int | None, passed: bool | None, review: str | None, excellent_mark: int) -> Outcome:
    """The outcome of a closed paper from what its row holds."""
    if status == "expired":
        return Outcome.EXPIRED
    if review == "pending":
        return Outcome.PENDING
    if review == "rejected":
        return Outcome.REJECTED
    if not passed or score is None:
        return Outcome.FAILED
    return Outcome.EXCELLENT if score >= excellent_mark else Outcome.PASSED


def counts(*, status: str, passed: bool | None, review: str | None) -> bool:
    """Whether a paper counts for the cycle: passed within the time, and not flagged unless accepted."""
    return status == "finished" and bool(passed) and review in (None, "accepted")


def retake_at(closed_at: datetime, cooldown_minutes: int) -> datetime:
    return closed_at + timedelta(minutes=cooldown_minutes)


def minutes_left(now: datetime, deadline: datetime) -> int:
    """Whole minutes, rounded up, so the last seconds still read as one minute."""
    return max(0, math.ceil((deadline - now).total_seconds() / 60))


def toggled(picked: list[int], position: int) -> list[int]:
    """The multiple-choice selection after tapping `position`, kept sorted."""
    return sorted(set(picked) ^ {position})
