"""Training quiz (保密知识答卷): attempts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, BigId, Json, UTCDateTime


class QuizAttempt(Base):
    """One paper drawn for one person: its questions with their option orders, its timing and its result."""

    __tablename__ = "quiz_attempt"
    __table_args__ = (Index("ix_quiz_attempt_staff_cycle", "staff_id", "cycle"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    cycle: Mapped[int] = mapped_column(Integer)  # the calendar year, in the bureau's time zone
    # [{"q": question id, "o": option order as displayed}], stored so a restart shows the same paper.
    paper: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(12))  # open | finished | expired
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    correct: Mapped[int | None] = mapped_column(SmallInteger)
    score: Mapped[int | None] = mapped_column(SmallInteger)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    # A paper finished implausibly fast waits for an officer: pending | accepted | rejected (None: not flagged).
    review: Mapped[str | None] = mapped_column(String(12), index=True)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Given only to a passing paper that counts; `baomi quiz verify` looks it up.
    certificate_code: Mapped[str | None] = mapped_column(String(16), unique=True)


class QuizAnswer(Base):
    """One answered question of a paper; the unique key makes a doubled answer impossible."""

    __tablename__ = "quiz_answer"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempt.id"))
    position: Mapped[int] = mapped_column(SmallInteger)  # index of the question in the paper
    question_id: Mapped[str] = mapped_column(String(16), index=True)
    chosen: Mapped[list[int]] = mapped_column(Json)  # displayed positions the person chose
    is_correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
