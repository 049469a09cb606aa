"""Broadcasts in storage: who an audience reaches, the broadcast and its recipients, where delivery stands
(from the outbox), acknowledgements, nudges and the deadline list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, exists, false, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Binding, Department, OutboxMessage, SentLog, Staff
from bot.db.models_broadcast import Broadcast, BroadcastRecipient
from bot.db.session import queue_insert
from bot.db.upsert import insert_ignore
from bot.domain.levels import Role
from bot.handlers.broadcasts.rules import Audience, AudienceSpec, Tally, tally


def source_of(broadcast_id: int) -> str:
    """The outbox `source` of a broadcast's notices."""
    return f"broadcast:{broadcast_id}"


def progress_source(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}:progress"


def broadcast_of(source: str) -> int | None:
    """The broadcast whose notice a row with this source carries, if any."""
    kind, _, rest = source.partition(":")
    return int(rest) if kind == "broadcast" and rest.isdigit() else None


@dataclass(frozen=True)
class AudienceCount:
    recipients: int
    unreachable: int  # of the recipients: no binding, or every binding blocked the bot


@dataclass(frozen=True)
class Reader:
    """A recipient with at least one reachable chat account, and the language to write to them in."""

    staff_id: int
    locale: str


@dataclass(frozen=True)
class Created:
    broadcast_id: int
    recipients: int
    unreachable: int
    readers: list[Reader]


@dataclass(frozen=True)
class BroadcastInfo:
    id: int
    author_staff_id: int
    text: str
    created_at: datetime
    recipients: int
    ack_required: bool
    ack_deadline: datetime | None
    finished: bool


@dataclass(frozen=True)
class PersonLine:
    staff_id: int
    employee_id: str
    name: str
    department: str


@dataclass(frozen=True)
class Standing:
    """Where one broadcast stands: deliveries per person, and acknowledgements."""

    info: BroadcastInfo
    tally: Tally
    acked: int
    silent: list[PersonLine]  # reached and not acknowledged yet (when acknowledgement is required), by department
    unreached: list[PersonLine] = field(default_factory=list)  # not bound (or blocked the bot): never reached


def _info(b: Broadcast) -> BroadcastInfo:
    return BroadcastInfo(
        b.id,
        b.author_staff_id,
        b.text,
        b.created_at,
        b.recipients,
        b.ack_required,
        b.ack_deadline,
        b.finished_at is not None,
    )


def _selects(audience: Audience) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if audience.departments:
        conditions.append(Staff.department_id.in_(sorted(audience.departments)))
    if audience.levels:
        conditions.append(Staff.level.in_(sorted(level.value for level in audience.levels)))
    if audience.roles:
        by_role = [
            column.is_(True)
            for role, column in ((Role.HEAD, Staff.is_head), (Role.OFFICER, Staff.is_officer))
            if role in audience.roles
        ]
        conditions.append(or_(false(), *by_role))
    chosen = and_(true(), *conditions)
    if audience.people:
        named = Staff.id.in_(sorted(audience.people))
        chosen = or_(chosen, named) if audience.by_kind else named
    return and_(Staff.active.is_(True), chosen)


_REACHABLE = exists().where(Binding.staff_id == Staff.id, Binding.unreachable_at.is_(None))


async def count_audience(session: AsyncSession, audience: Audience) -> AudienceCount:
    rows = (await session.execute(select(_REACHABLE).where(_selects(audience)))).scalars().all()
    return AudienceCount(len(rows), sum(1 for reachable in rows if not reachable))


async def resolve(session: AsyncSession, spec: AudienceSpec) -> tuple[Audience, list[str]]:
    """An audience typed with department names; also returns the names that match no department."""
    found = {name: dept for name, dept in (await session.execute(select(Department.name, Department.id))).all()}
    unknown = sorted(name for name in spec.departments if name not in found)
    ids = frozenset(found[name] for name in spec.departments if name in found)
    return Audience(ids, spec.levels, spec.roles), unknown


async def create(
    session: AsyncSession,
    now: datetime,
    author_staff_id: int,
    text: str,
    audience: Audience,
    ack_deadline: datetime | None,
) -> Created:
    """Record the broadcast and its recipients; returns those who can be reached, to queue the notice to."""
    rows = (
        await session.execute(
            select(Staff.id, Staff.locale, Staff.department_id, _REACHABLE).where(_selects(audience)).order_by(Staff.id)
        )
    ).all()
    people = {staff_id: department_id for staff_id, _, department_id, _ in rows}
    readers = [Reader(staff_id, locale) for staff_id, locale, _, reachable in rows if reachable]
    reachable = {r.staff_id for r in readers}
    broadcast = Broadcast(
        author_staff_id=author_staff_id,
        text=text,
        audience=audience.to_dict(),
        recipients=len(people),
        ack_required=ack_deadline is not None,
        ack_deadline=ack_deadline,
        created_at=now,
        progress_at=now,
    )
    session.add(broadcast)
    await session.flush()
    table = cast(Table, BroadcastRecipient.__table__)
    for staff_id, department_id in people.items():
        queue_insert(
            session,
            table,
            {
                "broadcast_id": broadcast.id,
                "staff_id": staff_id,
                "department_id": department_id,
                "reachable": staff_id in reachable,
                # The officer who sends a notice has read it: never counted as 未确认 on their own notice.
                "acked_at": now if staff_id == author_staff_id else None,
            },
        )
    return Created(broadcast.id, len(people), len(people) - len(reachable), readers)


async def info(session: AsyncSession, broadcast_id: int) -> BroadcastInfo | None:
    found = await session.get(Broadcast, broadcast_id)
    return None if found is None else _info(found)


async def _tally(session: AsyncSession, broadcast_id: int) -> Tally:
    recipients = (
        await session.scalars(
            select(BroadcastRecipient.staff_id).where(BroadcastRecipient.broadcast_id == broadcast_id)
        )
    ).all()
    statuses = (
        await session.execute(
            select(OutboxMessage.staff_id, OutboxMessage.status).where(
                OutboxMessage.source == source_of(broadcast_id), OutboxMessage.op == "send"
            )
        )
    ).all()
    return tally(recipients, ((s, st) for s, st in statuses if s is not None))


async def standing(session: AsyncSession, broadcast_id: int) -> Standing | None:
    found = await session.get(Broadcast, broadcast_id)
    if found is None:
        return None
    acked, silent, unreached = await _acknowledgements(session, found)
    return Standing(_info(found), await _tally(session, broadcast_id), acked, silent, unreached)


async def _acknowledgements(
    session: AsyncSession, broadcast: Broadcast
) -> tuple[int, list[PersonLine], list[PersonLine]]:
    """How many acknowledged; who was reached and has not (未确认); who could not be reached at all (未送达)."""
    if not broadcast.ack_required:
        return 0, [], []
    rows = (
        await session.execute(
            select(
                BroadcastRecipient.acked_at,
                Staff.id,
                Staff.employee_id,
                Staff.name,
                Department.name,
                BroadcastRecipient.reachable,
            )
            .join(Staff, Staff.id == BroadcastRecipient.staff_id)
            .join(Department, Department.id == BroadcastRecipient.department_id)
            .where(BroadcastRecipient.broadcast_id == broadcast.id)
            .order_by(Department.name, Staff.employee_id)
        )
    ).all()
    silent = [PersonLine(r[1], r[2], r[3], r[4]) for r in rows if r[0] is None and r[5]]
    unreached = [PersonLine(r[1], r[2], r[3], r[4]) for r in rows if r[0] is None and not r[5]]
    return sum(1 for r in rows if r[0] is not None), silent, unreached


@dataclass(frozen=True)
class Recipient:
    person: PersonLine
    acked_at: datetime | None


async def recipients(session: AsyncSession, broadcast_id: int) -> list[Recipient]:
    """Every recipient of a broadcast with their 已阅, by unit (the department they were in when it was sent)."""
    rows = (
        await session.execute(
            select(BroadcastRecipient.acked_at, Staff.id, Staff.employee_id, Staff.name, Department.name)
            .join(Staff, Staff.id == BroadcastRecipient.staff_id)
            .join(Department, Department.id == BroadcastRecipient.department_id)
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
            .order_by(Department.name, Staff.employee_id)
        )
    ).all()
    return [Recipient(PersonLine(r[1], r[2], r[3], r[4]), r[0]) for r in rows]


async def recent(session: AsyncSession, limit: int = 8) -> list[Standing]:
    found = (await session.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit))).all()
    out = []
    for b in found:
        acked, silent, unreached = await _acknowledgements(session, b)
        out.append(Standing(_info(b), await _tally(session, b.id), acked, silent, unreached))
    return out


class Ack(StrEnum):
    RECORDED = "recorded"
    ALREADY = "already"
    NOT_RECIPIENT = "not_recipient"


async def acknowledge(session: AsyncSession, now: datetime, broadcast_id: int, staff_id: int) -> Ack:
    """Record that a recipient has read the notice; the first press counts."""
    done = await session.execute(
        update(BroadcastRecipient)
        .where(
            BroadcastRecipient.broadcast_id == broadcast_id,
            BroadcastRecipient.staff_id == staff_id,
            BroadcastRecipient.acked_at.is_(None),
        )
        .values(acked_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 1:  # type: ignore[attr-defined]
        return Ack.RECORDED
    known = await session.scalar(
        select(BroadcastRecipient.id).where(
            BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.staff_id == staff_id
        )
    )
    return Ack.ALREADY if known is not None else Ack.NOT_RECIPIENT


async def silent_readers(session: AsyncSession, broadcast_id: int) -> list[Reader]:
    """Recipients who have not acknowledged and can be reached (for a nudge)."""
    rows = (
        await session.execute(
            select(Staff.id, Staff.locale)
            .join(BroadcastRecipient, BroadcastRecipient.staff_id == Staff.id)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.acked_at.is_(None),
                Staff.active.is_(True),
                _REACHABLE,
            )
            .order_by(Staff.id)
        )
    ).all()
    return [Reader(r[0], r[1]) for r in rows]


async def claim_nudge(session: AsyncSession, now: datetime, broadcast_id: int, local_day: str) -> bool:
    """True the first time a nudge of this broadcast is claimed on this (local) day: at most one a day."""
    row = {"duty": "broadcast.nudge", "subject": source_of(broadcast_id), "period": local_day, "step": "nudge"}
    return await insert_ignore(session, SentLog, [{**row, "created_at": now}], list(row)) == 1


@dataclass(frozen=True)
class ProgressTarget:
    channel: str
    chat_id: str
    message_id: str


@dataclass(frozen=True)
class Progress:
    info: BroadcastInfo
    tally: Tally
    messages: list[ProgressTarget]  # the officer's progress message(s), to edit
    unreachable: list[PersonLine]  # for the final report: who could not be reached or failed


async def claim_progress(session: AsyncSession, now: datetime, broadcast_id: int, every: timedelta) -> Progress | None:
    """The progress to show if an update is due (`every` since the last one, or delivery just finished);
    marks it shown, and the broadcast finished once nothing is left to send. None when nothing is due."""
    found = await session.get(Broadcast, broadcast_id)
    if found is None or found.finished_at is not None:
        return None
    # The progress message itself counts: once it is out, the last edit has a message to go to.
    still_sending = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.source.in_((source_of(broadcast_id), progress_source(broadcast_id))),
            OutboxMessage.status.in_(("pending", "sending")),
        )
        .limit(1)
    )
    due = found.progress_at is None or now - found.progress_at >= every
    if still_sending is not None and not due:
        return None
    values: dict[str, Any] = {"progress_at": now}
    if still_sending is None:
        values["finished_at"] = now
    # Conditional on the row as read, so two dispatchers (PostgreSQL) cannot both report it.
    claimed = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.finished_at.is_(None), _same(found.progress_at))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    counted = await _tally(session, broadcast_id)
    messages = (
        await session.execute(
            select(OutboxMessage.channel, OutboxMessage.chat_id, OutboxMessage.message_id).where(
                OutboxMessage.source == progress_source(broadcast_id),
                OutboxMessage.op == "send",
                OutboxMessage.status == "sent",
                OutboxMessage.message_id.is_not(None),
            )
        )
    ).all()
    unreachable: list[PersonLine] = []
    if still_sending is None:
        missed = [person for person, state in counted.by_person.items() if state.value in ("unreachable", "failed")]
        unreachable = await people_lines(session, missed)
    return Progress(
        replace(_info(found), finished=still_sending is None),
        counted,
        [ProgressTarget(r[0], r[1], r[2]) for r in messages if r[2] is not None],
        unreachable,
    )


def _same(progress_at: datetime | None) -> ColumnElement[bool]:
    return Broadcast.progress_at.is_(None) if progress_at is None else Broadcast.progress_at == progress_at


async def people_lines(session: AsyncSession, staff_ids: Iterable[int]) -> list[PersonLine]:
    ids = sorted(set(staff_ids))
    if not ids:
        return []
    rows = (
        await session.execute(
            select(Staff.id, Staff.employee_id, Staff.name, Department.name)
            .join(Department, Department.id == Staff.department_id)
            .where(Staff.id.in_(ids))
            .order_by(Department.name, Staff.employee_id)
        )
    ).all()
    return [PersonLine(r[0], r[1], r[2], r[3]) for r in rows]


async def unfinished(session: AsyncSession) -> Sequence[int]:
    return (await session.scalars(select(Broadcast.id).where(Broadcast.finished_at.is_(None)))).all()


@dataclass(frozen=True)
class Escalation:
    """Those still silent at a broadcast's deadline, per department, and who heads each department."""

    info: BroadcastInfo
    silent: dict[int, list[PersonLine]]  # by department id
    heads: dict[int, list[int]]  # department id -> active heads' staff ids
    silent_total: int


async def claim_escalations(session: AsyncSession, now: datetime) -> list[Escalation]:
    """Broadcasts whose acknowledgement deadline has passed and that were not escalated yet; marks them."""
    due = (
        await session.scalars(
            select(Broadcast).where(
                Broadcast.ack_required.is_(True), Broadcast.ack_deadline <= now, Broadcast.escalated_at.is_(None)
            )
        )
    ).all()
    out = []
    for b in due:
        claimed = await session.execute(
            update(Broadcast)
            .where(Broadcast.id == b.id, Broadcast.escalated_at.is_(None))
            .values(escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        rows = (
            await session.execute(
                select(BroadcastRecipient.department_id, Staff.id, Staff.employee_id, Staff.name, Department.name)
                .join(Staff, Staff.id == BroadcastRecipient.staff_id)
                .join(Department, Department.id == BroadcastRecipient.department_id)
                .where(
                    BroadcastRecipient.broadcast_id == b.id,
                    BroadcastRecipient.acked_at.is_(None),
                    # Never reached is 未送达 (in /broadcasts), not silent: their head is not told they ignored it.
                    BroadcastRecipient.reachable.is_(True),
                    Staff.active.is_(True),
                )
                .order_by(Staff.employee_id)
            )
        ).all()
        silent: dict[int, list[PersonLine]] = {}
        for dept, staff_id, employee_id, name, dept_name in rows:
            silent.setdefault(dept, []).append(PersonLine(staff_id, employee_id, name, dept_name))
        heads: dict[int, list[int]] = {dept: [] for dept in silent}
        if silent:
            found = await session.execute(
                select(Staff.department_id, Staff.id).where(
                    Staff.is_head.is_(True), Staff.active.is_(True), Staff.department_id.in_(sorted(silent))
                )
            )
            for dept, staff_id in found.all():
                heads[dept].append(staff_id)
        out.append(Escalation(_info(b), silent, heads, len(rows)))
    return out
