"""Confidentiality pledges (保密承诺书): requests, signatures, departures."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, BigId, UTCDateTime


class PledgeTask(Base):
    """A special task (专项) for which an officer asked a group to sign a pledge."""

    __tablename__ = "pledge_task"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    due_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Departure(Base):
    """A person approved to leave a classified post: the start of their declassification period (第十四条)."""

    __tablename__ = "departure"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    approved_on: Mapped[date] = mapped_column(Date)  # the unit's approval: the period runs from the next day
    level: Mapped[str] = mapped_column(String(16))  # the level held when leaving, which fixes the period
    months: Mapped[int] = mapped_column(Integer)  # 0 for a person without a classified level
    ends_on: Mapped[date | None] = mapped_column(Date)  # the last day: the corresponding day (民法典 第二百零二条)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: from the command line
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the departure pledge was signed


class PledgeRequest(Base):
    """One person asked to sign one pledge other than the yearly one (which everybody owes every cycle)."""

    __tablename__ = "pledge_request"
    __table_args__ = (UniqueConstraint("staff_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # bot.handlers.pledges.rules.PledgeKind
    key: Mapped[str] = mapped_column(String(48))  # "onboarding", "departure:<id>", "special:<task id>"
    task_id: Mapped[int | None] = mapped_column(ForeignKey("pledge_task.id"))
    departure_id: Mapped[int | None] = mapped_column(ForeignKey("departure.id"))
    due_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PledgeRecord(Base):
    """Append-only and hash-chained: a signature or a refusal, with the exact text that was shown."""

    __tablename__ = "pledge_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)  # the record number on receipts and paper
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("pledge_request.id"))
    kind: Mapped[str] = mapped_column(String(16))
    cycle: Mapped[int] = mapped_column(Integer)  # the cycle (year it starts in) the record falls in
    version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(8))  # bot.handlers.pledges.rules.Outcome
    text: Mapped[str] = mapped_column(Text)  # public, general material: kept so the paper copy can be checked
    text_hash: Mapped[str] = mapped_column(String(64))
    signed_name: Mapped[str | None] = mapped_column(String(50))
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
