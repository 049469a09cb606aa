"""The departure procedure's records: started by an officer, its steps completed by the person and their head,
approved by the office (rules.py cites the articles). Every step is audit-logged; a service never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff
from bot.db.models_pledge import Departure, PledgeRequest
from bot.domain.declassification import period_end
from bot.domain.levels import Level
from bot.handlers.departures.rules import PRECONDITIONS, DepartureKind, ProcedureStep
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.rules import PledgeKind, PledgeState
from bot.services import audit

# On the tables, not the ORM entities (/status asks for the person's procedure): plain rows skip the ORM's work at
# each execution; every step writes its row and flushes it at once.
DEPARTURES = Departure.__table__
STAFF = Staff.__table__
DEPARTMENTS = Department.__table__
REQUESTS = PledgeRequest.__table__


@dataclass(frozen=True)
class Handover:
    """What the person hands over, as counts (第十三条 登记列表): never titles or contents."""

    paper: int  # 纸质载体, 件
    media: int  # 存储介质, 件
    devices: int  # 涉密设备, 台


@dataclass(frozen=True)
class Procedure:
    id: int
    staff_id: int
    employee_id: str
    name: str
    department_id: int
    department: str
    level: Level
    kind: DepartureKind | None  # None: not stated (a departure recorded on paper without --kind)
    months: int
    started_by: int | None
    started_at: datetime
    handover: Handover | None
    handed_over_at: datetime | None
    received_at: datetime | None
    educated_at: datetime | None
    pledge: PledgeState | None  # None: not asked yet (it is asked once the handover is received)
    pledge_at: datetime | None  # when the latest answer was given
    approved_on: date | None
    ends_on: date | None
    outside: bool  # steps done outside the system (`baomi depart`)

    @property
    def missing(self) -> list[ProcedureStep]:
        """The preconditions of approval not met yet, in order (篇3 第十三条)."""
        done = {
            ProcedureStep.HANDOVER: self.handed_over_at is not None,
            ProcedureStep.RECEIPT: self.received_at is not None,
            ProcedureStep.EDUCATION: self.educated_at is not None,
            ProcedureStep.PLEDGE: self.pledge is PledgeState.SIGNED,
        }
        return [step for step in PRECONDITIONS if not done[step]]

    @property
    def pledge_refused(self) -> bool:
        return self.pledge is PledgeState.DECLINED

    @property
    def waiting_since(self) -> dict[ProcedureStep, datetime]:
        """Each step that can be done now, with the moment it became possible (for the reminder)."""
        missing = self.missing
        out: dict[ProcedureStep, datetime] = {}
        if ProcedureStep.HANDOVER in missing:
            out[ProcedureStep.HANDOVER] = self.started_at
        elif ProcedureStep.RECEIPT in missing and self.handed_over_at is not None:
            out[ProcedureStep.RECEIPT] = self.handed_over_at
        elif ProcedureStep.PLEDGE in missing and self.received_at is not None and not self.pledge_refused:
            out[ProcedureStep.PLEDGE] = self.received_at
        if ProcedureStep.EDUCATION in missing:
            out[ProcedureStep.EDUCATION] = self.started_at
        if not missing:
            moments = [m for m in (self.received_at, self.educated_at, self.pledge_at) if m is not None]
            out[ProcedureStep.APPROVAL] = max(moments, default=self.started_at)
        return out


class NotReady(Exception):
    """Approval asked for while preconditions are missing (篇3 第十三条: 不得批准)."""

    def __init__(self, procedure: Procedure) -> None:
        super().__init__(", ".join(procedure.missing))
        self.procedure = procedure


def _query() -> Select[Any]:
    """A departure's columns, its person's employee_id, name and department_id, the department's name
    (`department`) and its pledge request (`request_id`)."""
    return (
        select(
            DEPARTURES,
            STAFF.c.employee_id,
            STAFF.c.name,
            STAFF.c.department_id,
            DEPARTMENTS.c.name.label("department"),
            REQUESTS.c.id.label("request_id"),
        )
        .join(STAFF, STAFF.c.id == DEPARTURES.c.staff_id)
        .join(DEPARTMENTS, DEPARTMENTS.c.id == STAFF.c.department_id)
        .outerjoin(REQUESTS, REQUESTS.c.departure_id == DEPARTURES.c.id)
    )


async def _procedures(
    session: AsyncSession, query: Select[Any], params: dict[str, Any] | None = None
) -> list[Procedure]:
    rows = (await session.execute(query, params)).all()
    standings = {
        s.request_id: s
        for s in await pledges.request_standings(session, sorted({row.staff_id for row in rows if row.request_id}))
        if s.kind is PledgeKind.DEPARTURE
    }
    out = []
    for departure in rows:
        standing = standings.get(departure.request_id) if departure.request_id else None
        handover = (
            Handover(departure.handover_paper or 0, departure.handover_media or 0, departure.handover_devices or 0)
            if departure.handed_over_at is not None
            else None
        )
        out.append(
            Procedure(
                id=departure.id,
                staff_id=departure.staff_id,
                employee_id=departure.employee_id,
                name=departure.name,
                department_id=departure.department_id,
                department=departure.department,
                level=Level(departure.level),
                kind=DepartureKind(departure.kind) if departure.kind else None,
                months=departure.months,
                started_by=departure.recorded_by,
                started_at=departure.created_at,
                handover=handover,
                handed_over_at=departure.handed_over_at,
                received_at=departure.received_at,
                educated_at=departure.educated_at,
                pledge=standing.state if standing else None,
                pledge_at=standing.record.at if standing and standing.record else None,
                approved_on=departure.approved_on,
                ends_on=departure.ends_on,
                outside=departure.outside,
            )
        )
    return out


def _under_way() -> Select[Any]:
    return _query().where(DEPARTURES.c.approved_on.is_(None), DEPARTURES.c.cancelled_at.is_(None))


async def in_progress(session: AsyncSession, department_id: int | None = None) -> list[Procedure]:
    """Procedures started and neither approved nor cancelled, oldest first (one department's, or all)."""
    query = _under_way()
    if department_id is not None:
        query = query.where(STAFF.c.department_id == department_id)
    return await _procedures(session, query.order_by(DEPARTURES.c.created_at, DEPARTURES.c.id))


async def by_id(session: AsyncSession, departure_id: int) -> Procedure | None:
    found = await _procedures(session, _query().where(DEPARTURES.c.id == departure_id))
    return found[0] if found else None


# Built once (/status asks it).
UNDER_WAY_OF = _under_way().where(DEPARTURES.c.staff_id.in_(bindparam("staff_ids", expanding=True)))


async def under_way_of(session: AsyncSession, staff_ids: Sequence[int]) -> dict[int, Procedure | None]:
    """Each person's procedure under way, if any (there is one at most)."""
    out: dict[int, Procedure | None] = dict.fromkeys(staff_ids)
    for found in await _procedures(session, UNDER_WAY_OF, {"staff_ids": list(staff_ids)}):
        out[found.staff_id] = found
    return out


async def under_way_for(session: AsyncSession, staff_id: int) -> Procedure | None:
    """The person's procedure under way, if any."""
    return (await under_way_of(session, [staff_id]))[staff_id]


async def start(
    session: AsyncSession,
    now: datetime,
    staff_id: int,
    level: Level,
    kind: DepartureKind | None,
    months: int,
    by: int | None,
) -> Procedure:
    """Starts the procedure (the kind is recorded); audit-logged."""
    row = Departure(staff_id=staff_id, kind=kind, level=level.value, months=months, recorded_by=by, created_at=now)
    session.add(row)
    await session.flush()
    await audit.record(session, now, by, "departure.start", f"staff:{staff_id}", departure=row.id, kind=kind)
    found = await by_id(session, row.id)
    assert found is not None
    return found


async def _row(session: AsyncSession, departure_id: int) -> Departure | None:
    row = await session.get(Departure, departure_id)
    return row if row is not None and row.approved_on is None and row.cancelled_at is None else None


async def declare_handover(
    session: AsyncSession, now: datetime, departure_id: int, staff_id: int, handover: Handover
) -> bool:
    """The person's list of what they hand over (counts); False when it is not theirs to give (any more)."""
    row = await _row(session, departure_id)
    if row is None or row.staff_id != staff_id or row.handed_over_at is not None:
        return False
    row.handover_paper, row.handover_media, row.handover_devices = handover.paper, handover.media, handover.devices
    row.handed_over_at = now
    await session.flush()
    await audit.record(
        session,
        now,
        staff_id,
        "departure.handover",
        f"staff:{staff_id}",
        departure=departure_id,
        paper=handover.paper,
        media=handover.media,
        devices=handover.devices,
    )
    return True


async def confirm_receipt(session: AsyncSession, now: datetime, departure_id: int, by: int, pledge_due: date) -> bool:
    """The head (or the office) checked the list against what was handed over (双方核对确认); the departure pledge
    is then asked for. False when there is nothing to confirm."""
    row = await _row(session, departure_id)
    if row is None or row.handed_over_at is None or row.received_at is not None or row.staff_id == by:
        return False
    row.received_at, row.received_by = now, by
    session.add(
        PledgeRequest(
            staff_id=row.staff_id,
            kind=PledgeKind.DEPARTURE.value,
            key=f"departure:{row.id}",
            departure_id=row.id,
            due_on=pledge_due,
            created_by=by,
            created_at=now,
        )
    )
    await session.flush()
    await audit.record(session, now, by, "departure.receipt", f"staff:{row.staff_id}", departure=departure_id)
    return True


async def record_education(session: AsyncSession, now: datetime, departure_id: int, by: int) -> bool:
    """离岗前保密教育 given (涉密人员管理制度 五、2.); False when recorded already."""
    row = await _row(session, departure_id)
    if row is None or row.educated_at is not None or row.staff_id == by:
        return False
    row.educated_at, row.educated_by = now, by
    await session.flush()
    await audit.record(session, now, by, "departure.education", f"staff:{row.staff_id}", departure=departure_id)
    return True


async def cancel(session: AsyncSession, now: datetime, departure_id: int, by: int) -> bool:
    """Ends a procedure without approval (started by mistake, the person stays); its pledge is not asked any more."""
    row = await _row(session, departure_id)
    if row is None:
        return False
    row.cancelled_at = now
    await session.flush()
    await audit.record(session, now, by, "departure.cancel", f"staff:{row.staff_id}", departure=departure_id)
    return True


async def approve(
    session: AsyncSession, now: datetime, departure_id: int, approved_on: date, by: int | None, on_paper: bool = False
) -> Procedure:
    """Approves the departure when every precondition is met (raises NotReady otherwise): the 脱密期 runs from the
    day after `approved_on` (篇3 第十四条; 民法典 第二百零一条、第二百零二条). One who leaves the bureau leaves the
    roster's active staff; one who stays holds no classified post any more. `on_paper`: the pledge was signed on
    paper (`baomi depart`). Audit-logged."""
    found = await by_id(session, departure_id)
    row = await _row(session, departure_id)
    if found is None or row is None:
        raise LookupError(departure_id)
    if [step for step in found.missing if not (on_paper and step is ProcedureStep.PLEDGE)]:
        raise NotReady(found)
    row.approved_on = approved_on
    row.ends_on = period_end(approved_on, row.months) if row.months else None
    row.approved_at, row.approved_by, row.completed_at = now, by, now
    leaves = found.kind is None or found.kind.leaves_bureau
    values: dict[str, object] = {"active": False, "departed_on": approved_on} if leaves else {"level": Level.NONE.value}
    await session.execute(
        update(Staff)
        .where(Staff.id == row.staff_id)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    await audit.record(
        session,
        now,
        by,
        "departure.approve",
        f"staff:{row.staff_id}",
        departure=departure_id,
        kind=found.kind,
        approved_on=approved_on.isoformat(),
        months=row.months,
        outside=row.outside,
    )
    approved = await by_id(session, departure_id)
    assert approved is not None
    return approved


async def record_outside(
    session: AsyncSession,
    now: datetime,
    staff_id: int,
    level: Level,
    kind: DepartureKind | None,
    months: int,
    approved_on: date,
    by: int | None,
) -> tuple[Procedure, Sequence[ProcedureStep]]:
    """A departure approved on paper (`baomi depart`): the procedure under way (or a new one) has its missing steps
    marked as done outside the system — audit-logged, one entry naming them — and is approved on `approved_on`.
    Returns it and the steps so marked."""
    current = await under_way_for(session, staff_id)
    if current is None:
        current = await start(session, now, staff_id, level, kind, months, by)
    row = await _row(session, current.id)
    assert row is not None
    marked = current.missing
    if ProcedureStep.HANDOVER in marked:
        row.handed_over_at = now
    if ProcedureStep.RECEIPT in marked:
        row.received_at = now
    if ProcedureStep.EDUCATION in marked:
        row.educated_at = now
    row.outside = True
    await session.flush()
    await audit.record(
        session,
        now,
        by,
        "departure.outside",
        f"staff:{staff_id}",
        departure=current.id,
        steps=[step.value for step in marked],
    )
    # The pledge was signed on paper: the paper copy answers the request asked in the chat, if any.
    approved = await approve(session, now, current.id, approved_on, by, on_paper=True)
    return approved, marked


async def latest(session: AsyncSession, staff_id: int) -> Procedure | None:
    """The person's latest departure not cancelled (under way or approved), for their record in the web console."""
    found = await _procedures(
        session,
        _query()
        .where(Departure.staff_id == staff_id, Departure.cancelled_at.is_(None))
        .order_by(Departure.id.desc())
        .limit(1),
    )
    return found[0] if found else None
