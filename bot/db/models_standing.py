"""Each person's standing on the duties, as facts copied from the records (bot/handlers/compliance/standing.py):
the dashboard's figures for 100,000 people are then one pass over one table instead of a pass over every record.

The facts are dates and years, never "done" flags: whether a fact still counts is judged on the day asked, so
nothing has to change when a day, a half-year or a cycle rolls over. Triggers on the records' tables (migration
0031) put the person's id in `standing_dirty` whenever a record of theirs is written; `standing.settle` copies
their facts again before anything reads the table."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, BigId

FIGURES = (
    "department_id",
    "active",
    "level",
    "bound",
    "pledge_cycle",
    "pledge_outcome",
    "pledge_kind",
    "pledge_version",
    "quiz_year",
    "quiz_score",
    "educated_on",
    "self_check_year",
)


FILTERS = ("department_id", "level", "bound", "active")


class StaffStanding(Base):
    __tablename__ = "staff_standing"
    # Covering the units' figures: one pass over the index in unit order, no table rows, no sort.
    __table_args__ = (
        Index("ix_staff_standing_unit", *FIGURES),
        Index("ix_staff_standing_filters", *FILTERS),  # narrow: counting the people a filter finds
    )

    staff_id: Mapped[int] = mapped_column(BigId, primary_key=True)  # no foreign key: rows follow the staff rows
    department_id: Mapped[int] = mapped_column(BigId)
    level: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean)
    bound: Mapped[bool] = mapped_column(Boolean)
    # The latest yearly (or onboarding) pledge record: its cycle, kind, version and outcome.
    pledge_cycle: Mapped[int | None] = mapped_column(Integer)
    pledge_kind: Mapped[str | None] = mapped_column(String(16))
    pledge_version: Mapped[int | None] = mapped_column(Integer)
    pledge_outcome: Mapped[str | None] = mapped_column(String(8))
    quiz_year: Mapped[int | None] = mapped_column(Integer)  # the latest year with a passing paper that counts
    quiz_score: Mapped[int | None] = mapped_column(Integer)  # the best such score of that year
    educated_on: Mapped[date | None] = mapped_column(Date)  # the latest education received
    self_check_year: Mapped[int | None] = mapped_column(Integer)  # the latest year of an individual self-check
    departure_approved_on: Mapped[date | None] = mapped_column(Date)  # a departure not completed
    declassification_ends_on: Mapped[date | None] = mapped_column(Date)
    departing: Mapped[bool] = mapped_column(Boolean, default=False)  # a departure under way or approved, not completed


class StandingDirty(Base):
    """People whose records changed since their standing was copied (written by the triggers)."""

    __tablename__ = "standing_dirty"

    staff_id: Mapped[int] = mapped_column(BigId, primary_key=True)


class StandingVersion(Base):
    """One row: a token drawn anew by every settle that changed a standing (0: none ever did), so figures computed
    under one token hold until the next, in every process."""

    __tablename__ = "standing_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
