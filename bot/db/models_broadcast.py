"""Broadcasts from the secrecy office and their recipients.

What was delivered to whom lives in the outbox (rows with `source = "broadcast:<id>"`); these tables hold
what the office decided (text, audience, deadline) and what each recipient did (acknowledged or not)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, BigId, Json, UTCDateTime


class Broadcast(Base):
    """A notice sent by an officer to a chosen part of the staff."""

    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    author_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str] = mapped_column(Text)
    # bot.handlers.broadcasts.rules.Audience as a dict: the selection as the officer made it, for the record.
    audience: Mapped[dict[str, Any]] = mapped_column(Json)
    recipients: Mapped[int] = mapped_column(Integer)
    ack_required: Mapped[bool] = mapped_column(Boolean)
    ack_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the officer's progress message was last brought up to date: edits are spaced by this.
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set once nothing is left to deliver and the delivery report is queued (exactly once).
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set once those silent at the deadline are listed to their heads (exactly once).
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BroadcastRecipient(Base):
    """One person a broadcast was addressed to, whether or not they could be reached."""

    __tablename__ = "broadcast_recipient"
    __table_args__ = (UniqueConstraint("broadcast_id", "staff_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcast.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # Their department when the notice went out: the deadline list goes to that department's heads.
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    reachable: Mapped[bool] = mapped_column(Boolean)  # had a binding not marked unreachable at sending
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
