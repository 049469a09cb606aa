"""信息发布保密审查 (pre-publication secrecy review): the requests and every reviewer's decision on them.

A request holds metadata only — where and when it is to be published, its title and kind, and where the draft
lies in the unit's own system — never the draft itself."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, BigId, Json, UTCDateTime


class ReviewRequest(Base):
    """One item to be published, from its submission to its final decision. Returned for changes, it is
    resubmitted as the next round of the same request; the 审查单 number is drawn at the final approval."""

    __tablename__ = "review_request"
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        Index("ix_review_request_status_department", "status", "department_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submitter_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))  # the submitter's unit when submitted
    channel: Mapped[str] = mapped_column(String(16))  # bot.handlers.review.rules.Channel
    channel_name: Mapped[str | None] = mapped_column(String(30))  # typed for "other"
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # bot.handlers.review.rules.Kind
    planned_on: Mapped[date] = mapped_column(Date)
    draft_ref: Mapped[str] = mapped_column(String(200))  # the draft's link or number in the unit's own system
    chain: Mapped[list[str]] = mapped_column(Json)  # the stages of the current round, in order
    status: Mapped[str] = mapped_column(String(16))  # bot.handlers.review.rules.Status
    round: Mapped[int] = mapped_column(SmallInteger)
    stage_index: Mapped[int] = mapped_column(SmallInteger)  # the stage waiting for a decision (while reviewing)
    stage_since: Mapped[datetime] = mapped_column(UTCDateTime())  # since when that stage waits
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the first submission
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # approved, refused or withdrawn
    number: Mapped[str | None] = mapped_column(String(16), unique=True)  # SC-2026-0042, on approval
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    # The audit log entry of the final approval: printed on the 审查单 with its QR code.
    record_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReviewDecision(Base):
    """A reviewer's decision on one stage of one round (or the stage passed without one: the submitter holds the
    role, or the unit has no head). Each is also an entry of the audit chain, whose hash it keeps."""

    __tablename__ = "review_decision"
    __table_args__ = (UniqueConstraint("request_id", "round", "stage"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("review_request.id"), index=True)
    round: Mapped[int] = mapped_column(SmallInteger)
    stage: Mapped[str] = mapped_column(String(16))
    reviewer_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decision: Mapped[str] = mapped_column(String(16))  # bot.handlers.review.rules.Decision
    reason: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    record_hash: Mapped[str] = mapped_column(String(64))  # the audit log entry that records it
