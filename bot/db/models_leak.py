"""Leak reports (泄密事件报告): cases, their events and reporters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, BigId, Json, UTCDateTime


class LeakCase(Base):
    """One reported incident: only metadata, never the content (bot.handlers.leak.rules names every field's values).

    Who reported it lives in `leak_reporter`, so that no view of the case carries a withheld name by accident."""

    __tablename__ = "leak_case"
    __table_args__ = (UniqueConstraint("year", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # BM-2026-0001
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    whose: Mapped[str] = mapped_column(String(8))
    discovered: Mapped[str] = mapped_column(String(8))
    discovered_on: Mapped[date] = mapped_column(Date)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the moment the clocks run from
    place: Mapped[str] = mapped_column(String(50))
    carrier: Mapped[str] = mapped_column(String(16))
    carrier_count: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))
    measures: Mapped[list[str]] = mapped_column(Json)
    measures_note: Mapped[str | None] = mapped_column(String(100))
    name_withheld: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reported_late: Mapped[bool] = mapped_column(Boolean, default=False)  # more than 24 hours after discovery
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    written_report_due: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: no state secret, no clock
    written_report_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    conclusion_due: Mapped[datetime] = mapped_column(UTCDateTime())
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Missing carriers only: when it counts as leaked, when it was found, when it was handled as leaked.
    carrier_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    carrier_found_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    carrier_deemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LeakReporter(Base):
    """Who reported a case. Officers see it only for cases not withheld, or by an audit-logged reveal."""

    __tablename__ = "leak_reporter"

    case_id: Mapped[int] = mapped_column(ForeignKey("leak_case.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)


class LeakCaseEvent(Base):
    """Append-only and hash-chained like the audit log: submissions, acknowledgements, status changes, notes,
    relays and reveals. The actor is empty for a reporter whose name is withheld (and for the clocks)."""

    __tablename__ = "leak_case_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("leak_case.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(Json)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
