"""Scheduled duties: semiannual education, carrier inventories, the October self-check."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, BigId, Json, UTCDateTime


class EducationRecord(Base):
    """A head's record that a person received the half-yearly secrecy education (第十五条)."""

    __tablename__ = "education_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    form: Mapped[str] = mapped_column(String(16))  # meeting | talk | training
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InventoryReport(Base):
    """A department's confirmation of its carrier inventory (第二十七条): counts only, never the register."""

    __tablename__ = "inventory_report"
    __table_args__ = (UniqueConstraint("department_id", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    period: Mapped[str] = mapped_column(String(16))
    checked: Mapped[int] = mapped_column(Integer)
    matches: Mapped[bool] = mapped_column(Boolean)
    missing: Mapped[int] = mapped_column(Integer)
    reported_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    case_number: Mapped[str | None] = mapped_column(String(32))  # the leak case opened for missing carriers
    # A count that differs with nothing missing is a discrepancy until the office resolves it (已核实, with why).
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolution: Mapped[str | None] = mapped_column(String(100))  # the (guarded) reason given


class SelfCheck(Base):
    """A person's individual self-check of the year (每年10月开展保密自查自评)."""

    __tablename__ = "self_check"
    __table_args__ = (UniqueConstraint("staff_id", "year"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    year: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(Json)  # item id -> {"answer": yes|no|na, "note": str}
    no_count: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Rectification(Base):
    """A 整改 item: a 否 in a self-check (individual or the unit's), owned by the person's head (the office for the
    unit's own and for a unit without a head), due by a date, tracked to closure (保密工作常态化工作制度 第十五条:
    定期开展保密自查自评，发现问题及时整改)."""

    __tablename__ = "rectification"
    __table_args__ = (UniqueConstraint("source", "item"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # "self_check:<id>" or "unit_check:<year>"
    item: Mapped[str] = mapped_column(String(16))  # the checklist item's id
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)  # whose answer; None: the unit
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # the head; None: the secrecy office
    note: Mapped[str] = mapped_column(String(100))  # the (guarded) note given with the 否
    due_on: Mapped[date] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class UnitSelfCheck(Base):
    """The unit's October self-assessment (第七条 3. 每年10月开展保密自查自评), answered by the secrecy office."""

    __tablename__ = "unit_self_check"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(Json)  # item id -> {"answer": yes|no|na, "note": str}
    no_count: Mapped[int] = mapped_column(Integer)
    completed_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
