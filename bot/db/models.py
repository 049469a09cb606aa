"""The data model. Every domain record points at a staff record; channel ids live only in bindings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Large integer primary keys on PostgreSQL, but plain INTEGER on SQLite where only that is a rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (portable) and always hands back aware UTC datetimes."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    employee_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))  # bot.domain.levels.Level
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)
    is_officer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)  # 分管领导
    is_group_member: Mapped[bool] = mapped_column(Boolean, default=False)  # 保密工作领导小组成员
    is_chief: Mapped[bool] = mapped_column(Boolean, default=False)  # 保密工作第一责任人
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    departed_on: Mapped[date | None] = mapped_column(Date)
    hired_on: Mapped[date | None] = mapped_column(Date)  # took up the post (上岗); None: not given on the roster
    secret_matters: Mapped[str | None] = mapped_column(String(200))  # 保密事项 the person handles (第十二条)
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    # WeCom identifies users by the enterprise's own account name: a roster entry binds without a code.
    wecom_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Binding(Base):
    """One chat account of one staff member on one channel."""

    __tablename__ = "binding"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the channel says the account blocked the bot or no longer exists (Telegram 403).
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Invitation(Base):
    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A reissue revokes the codes it replaces, so only the newest code of a person works.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CodeGuess(Base):
    """Wrong invitation codes sent by an account that is bound to nobody: too many lock it out for a while."""

    __tablename__ = "code_guess"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrong: Mapped[int] = mapped_column(SmallInteger)  # since `first_at`
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditLog(Base):
    """Append-only, hash-chained: each row carries the hash of the one before it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(Json)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Conversation(Base):
    """The one conversation a person is in, continued on whichever channel they use."""

    __tablename__ = "conversation"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(Json)
    # Bumped on every step; buttons carry it, so a stale or doubled press is recognised. The ORM checks it
    # on every UPDATE (optimistic locking): a step saved from a stale read fails instead of overwriting.
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The buttons the last step offered ({"text", "data", "short"?}, in the order they are numbered): a typed
    # number, letter or label picks one of them (bot/core/typed.py). Beside the state, not in it: the state is
    # the flow's own.
    offered: Mapped[list[dict[str, str]] | None] = mapped_column(Json)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class InboxEvent(Base):
    """What a channel received, committed before the channel is told it arrived."""

    __tablename__ = "inbox_event"
    __table_args__ = (
        UniqueConstraint("channel", "dedupe_key"),
        Index("ix_inbox_event_pending", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    channel_user_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(200))


class OutboxMessage(Base):
    """One operation for a channel (send, edit, answer a press, delete), written before it is performed."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_pending", "status", "priority", "id"),
        # The next row due (`not_before`) without scanning every pending row (a busy tick queues 170,000).
        Index("ix_outbox_message_due", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    op: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    priority: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sending|sent|failed|unreachable
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64), index=True)
    error: Mapped[str | None] = mapped_column(String(200))
    # The leadership term (Leadership.epoch) that claimed it last: only that term records its outcome.
    epoch: Mapped[int | None] = mapped_column(BigInteger)


class Leadership(Base):
    """One row: the term of the instance that runs the engine, the dispatcher and the sweeps (bot/leadership.py).
    Each new leader counts `epoch` up, and a leader's transactions go through only while it is still its own."""

    __tablename__ = "leadership"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str | None] = mapped_column(String(100))  # host and process id, for people reading the table
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SentLog(Base):
    """What a scheduled duty has sent: inserting (duty, subject, period, step) claims it exactly once."""

    __tablename__ = "sent_log"
    __table_args__ = (UniqueConstraint("duty", "subject", "period", "step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    duty: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))  # e.g. "staff:12", "department:3", "case:7"
    period: Mapped[str] = mapped_column(String(32))  # e.g. "2026", "2026H1", "2026-03-02"
    step: Mapped[str] = mapped_column(String(32))  # e.g. "start", "d-7", "overdue"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InstallationValue(Base):
    """Facts about this installation that must outlive a restart, e.g. the prefix that keeps WeCom card task ids
    unique (bot/channels/wecom/)."""

    __tablename__ = "installation_value"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CalendarOverride(Base):
    """An officer's correction of the working-day calendar (e.g. a year the official data does not cover)."""

    __tablename__ = "calendar_override"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Each capability keeps its tables in a module beside this one; importing them here registers them with
# Base.metadata, so Alembic and the tests see one schema.
from bot.db import (  # noqa: E402, F401
    models_broadcast,
    models_desk,
    models_duties,
    models_leak,
    models_pledge,
    models_quiz,
    models_review,
    models_standing,
)
