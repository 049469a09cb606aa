"""Confidentiality pledges (保密承诺书): requests, signatures, departures."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
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
    """A person leaving a classified post (离岗): the procedure an officer starts, whose steps are the preconditions
    of approval (教育局保密工作制度篇3 第十三条: 载体全部清退, 办理移交手续, 签订离岗保密承诺书; 涉密人员管理制度
    五、2. 离岗前保密教育), and the approval that starts the declassification period (篇3 第十四条)."""

    __tablename__ = "departure"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str | None] = mapped_column(String(16))  # bot.domain.departure.DepartureKind; None: before procedures
    # The unit's approval: the period runs from the next day. None while the procedure is under way.
    approved_on: Mapped[date | None] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(16))  # the level held when leaving, which fixes the period
    months: Mapped[int] = mapped_column(Integer)  # 0 for a person without a classified level
    ends_on: Mapped[date | None] = mapped_column(Date)  # the last day: the corresponding day (民法典 第二百零二条)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # who started it; None: command line
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # 清退: counts only (第十三条 登记列表, 双方核对确认), never what the carriers are.
    handover_paper: Mapped[int | None] = mapped_column(Integer)  # 纸质载体, 件
    handover_media: Mapped[int | None] = mapped_column(Integer)  # 存储介质, 件
    handover_devices: Mapped[int | None] = mapped_column(Integer)  # 涉密设备, 台
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the person confirmed the list
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the head (or office) confirmed receipt
    received_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    educated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # 离岗前保密教育 recorded
    educated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: from the command line
    outside: Mapped[bool] = mapped_column(Boolean, default=False)  # steps done on paper (`baomi depart`)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The person has left the post: at approval; for a departure approved before procedures existed, when its
    # departure pledge was signed.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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
