"""The sent-log as a filter: set-based sweeps select only what has not been claimed yet."""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, cast, exists, literal
from sqlalchemy.orm import QueryableAttribute

from bot.db.models import SentLog


def not_claimed(duty: str, period: str, step: str, subject: ColumnElement[str]) -> ColumnElement[bool]:
    """A filter for set-based sweeps: rows whose (duty, subject, period, step) is not in the sent-log yet,
    so a tick after the day's reminders went out selects nothing instead of everyone again."""
    return ~exists().where(
        SentLog.duty == duty, SentLog.subject == subject, SentLog.period == period, SentLog.step == step
    )


def staff_subject(staff_id: ColumnElement[int] | QueryableAttribute[int]) -> ColumnElement[str]:
    return literal("staff:") + cast(staff_id, String)
