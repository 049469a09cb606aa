"""Pledges: who owes which pledge, signing and declining (an append-only, hash-chained record), departures and
special tasks, and the views for /status, /team and the export."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.db.models import Department, Staff
from bot.db.models_pledge import Departure, PledgeRecord, PledgeRequest, PledgeTask
from bot.db.upsert import insert_ignore
from bot.domain.levels import Level
from bot.domain.schedule import due_date
from bot.domain.workdays import WorkCalendar
from bot.handlers.pledges.rules import (
    ANNUAL_COVER,
    GENESIS,
    REQUESTED_KINDS,
    Catalog,
    ChainFields,
    Outcome,
    PledgeKind,
    PledgeState,
    cycle_last_day,
    cycle_start,
    fingerprint,
    record_hash,
    text_hash,
)
from bot.services import audit, staff_queries
from bot.services.audit import ChainReport, lock_chain
from bot.services.calendar import work_calendar
from bot.services.launch import launch_day

CHAIN = "pledge_record"


@dataclass(frozen=True)
class Receipt:
    record_id: int
    staff_id: int
    request_id: int | None
    kind: PledgeKind
    cycle: int
    version: int
    outcome: Outcome
    at: datetime
    text_hash: str
    hash: str
    signed_name: str | None
    channel: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.text_hash)


def receipt_of(row: PledgeRecord | Row[Any]) -> Receipt:
    """The receipt of a stored record (an entity, or a row of RECEIPT_COLUMNS), as the person is shown it."""
    return Receipt(
        row.id,
        row.staff_id,
        row.request_id,
        PledgeKind(row.kind),
        row.cycle,
        row.version,
        Outcome(row.outcome),
        row.at,
        row.text_hash,
        row.hash,
        row.signed_name,
        row.channel,
    )


@dataclass(frozen=True)
class DepartureInfo:
    """A departure as its pledge names it: before approval (the procedure under way) `approved_on` is None and the
    period is stated by its length alone."""

    id: int
    staff_id: int
    approved_on: date | None
    level: Level
    months: int
    ends_on: date | None
    completed: bool
    kind: str | None = None  # bot.handlers.departures.rules.DepartureKind
    cancelled: bool = False


def _departure(row: Departure) -> DepartureInfo:
    return DepartureInfo(
        row.id,
        row.staff_id,
        row.approved_on,
        Level(row.level),
        row.months,
        row.ends_on,
        row.completed_at is not None,
        row.kind,
        row.cancelled_at is not None,
    )


@dataclass(frozen=True)
class Owed:
    """A pledge a person has still to sign (pending, to sign again after a material change, or declined)."""

    kind: PledgeKind
    request_id: int | None  # None: the pledge of the cycle
    cycle: int
    due_on: date
    state: PledgeState
    departure: DepartureInfo | None = None
    task_title: str | None = None


@dataclass(frozen=True)
class Standing:
    """Where one person stands on one pledge, with the record that decides it (None: nothing recorded)."""

    staff_id: int
    kind: PledgeKind
    request_id: int | None
    state: PledgeState
    due_on: date
    record: Receipt | None
    task_title: str | None = None
    departure: DepartureInfo | None = None  # a departure pledge's procedure, while it waits for the pledge


# --- who owes what --------------------------------------------------------------------------------------
def months_for(policy: Policy, level: Level) -> int:
    """The declassification period of a level (article 14), as the bureau's policy sets it; 0 without one."""
    return {
        Level.GENERAL: policy.declassification_months_general,
        Level.IMPORTANT: policy.declassification_months_important,
        Level.CORE: policy.declassification_months_core,
    }.get(level, 0)


def annual_due(
    policy: Policy,
    catalog: Catalog,
    cycle: int,
    today: date,
    state: PledgeState,
    calendar: WorkCalendar,
    launch: date | None,
) -> date:
    """The cycle's deadline; after a material change, the same number of days from the day it took effect; never
    within the launch grace. A deadline falling on a holiday moves to the working day before (the official
    calendar and officers' overrides)."""
    due = cycle_start(cycle, policy.pledge_cycle_start_month) + timedelta(days=policy.pledge_due_days)
    if state is PledgeState.RESIGN:
        current = catalog.current(PledgeKind.ANNUAL, today)
        due = max(due, current.effective + timedelta(days=policy.pledge_due_days))
    return due_date(after_launch_grace(policy, launch, due), calendar)


def after_launch_grace(policy: Policy, launch: date | None, due: date) -> date:
    """A yearly deadline never falls within `launch_grace_days` of the launch (bot/services/launch.py
    `launch_day`): nobody is overdue on first contact. The one rule every deadline of the renewals goes through:
    /status, the welcome, the sweeps' reminders, the heads' lists and the office's views."""
    if launch is None:
        return due
    return max(due, launch + timedelta(days=policy.launch_grace_days))


# Built once, with their values bound at each use (/status asks them for each person): a statement's cache key is then
# worked out once. On the tables, not the ORM entities: plain rows skip the ORM's work at each execution (building
# entities, checking the session for changes first); every writer of these rows flushes them as it writes.
RECORDS = PledgeRecord.__table__
REQUEST_ROWS = PledgeRequest.__table__
TASKS = PledgeTask.__table__
DEPARTURES = Departure.__table__
# What a receipt shows of a record: not the pledge's text, nor the chain's link to the previous record.
RECEIPT_COLUMNS = [column for column in RECORDS.c if column.name not in ("text", "prev_hash")]
ANNUAL = (
    select(*RECEIPT_COLUMNS)
    .where(RECORDS.c.cycle == bindparam("cycle"), RECORDS.c.kind.in_([k.value for k in ANNUAL_COVER]))
    .order_by(RECORDS.c.id)
)
ANNUAL_OF = ANNUAL.where(RECORDS.c.staff_id.in_(bindparam("staff_ids", expanding=True)))
# Each request (its id `request`, its `person` and `pledge` kind, `due_on`, its task's `title`, its departure's id
# `departure`, `departure_kind`, `approved_on`, `level`, `months`, `ends_on` and `completed_at`), on a row with each of
# its records in turn (their receipt columns, None while it has none): one statement for all.
REQUESTS: Select[Any] = (
    select(
        REQUEST_ROWS.c.id.label("request"),
        REQUEST_ROWS.c.staff_id.label("person"),
        REQUEST_ROWS.c.kind.label("pledge"),
        REQUEST_ROWS.c.due_on,
        TASKS.c.title,
        DEPARTURES.c.id.label("departure"),
        DEPARTURES.c.kind.label("departure_kind"),
        DEPARTURES.c.approved_on,
        DEPARTURES.c.level,
        DEPARTURES.c.months,
        DEPARTURES.c.ends_on,
        DEPARTURES.c.completed_at,
        *RECEIPT_COLUMNS,
    )
    .outerjoin(TASKS, TASKS.c.id == REQUEST_ROWS.c.task_id)
    .outerjoin(DEPARTURES, DEPARTURES.c.id == REQUEST_ROWS.c.departure_id)
    # A request's records are its person's (each signs or declines their own): found through the index on staff_id.
    .outerjoin(RECORDS, and_(RECORDS.c.staff_id == REQUEST_ROWS.c.staff_id, RECORDS.c.request_id == REQUEST_ROWS.c.id))
    # A cancelled departure asks for its pledge no more.
    .where(REQUEST_ROWS.c.staff_id.in_(bindparam("staff_ids", expanding=True)), DEPARTURES.c.cancelled_at.is_(None))
    .order_by(REQUEST_ROWS.c.id, RECORDS.c.id)
)


async def annual_standings(
    session: AsyncSession,
    staff_ids: Iterable[int],
    cycle: int,
    as_of: date,
    policy: Policy,
    catalog: Catalog,
    until: datetime | None = None,
    calendar: WorkCalendar | None = None,
) -> dict[int, Standing]:
    """The yearly pledge of `cycle` for each person, judged on `as_of` (material changes in force by then), from
    the records made before `until` (all of them when None). The due date uses `calendar` (read from the
    database when the caller has none)."""
    ids = list(staff_ids)
    latest: dict[int, Row[Any]] = {}
    last_signed: dict[int, Row[Any]] = {}
    if ids:
        # Few people: ask for them; everyone (the daily sweep): read the cycle, which stays within the
        # databases' limits on bound parameters.
        few = len(ids) <= 1000
        query = ANNUAL_OF if few else ANNUAL
        if until is not None:
            query = query.where(RECORDS.c.at < until)
        rows = await session.execute(query, {"cycle": cycle, "staff_ids": ids} if few else {"cycle": cycle})
        for record in rows:
            latest[record.staff_id] = record
            if record.outcome == Outcome.SIGNED:
                last_signed[record.staff_id] = record
    judged_on = min(as_of, cycle_last_day(cycle, policy.pledge_cycle_start_month))
    if calendar is None:
        calendar = await work_calendar(session)
    launch = await launch_day(session, policy)
    # The due date depends on the state only: worked out once per state, not once per person.
    due_by_state: dict[PledgeState, date] = {}
    out = {}
    for staff_id in ids:
        row = latest.get(staff_id)
        signed = last_signed.get(staff_id)
        shown: Row[Any] | None
        if row is None:
            state, shown = PledgeState.PENDING, None
        elif row.outcome == Outcome.DECLINED:
            state, shown = PledgeState.DECLINED, row
        elif catalog.superseded(PledgeKind(row.kind), row.version, judged_on):
            state, shown = PledgeState.RESIGN, signed
        else:
            state, shown = PledgeState.SIGNED, signed
        due = due_by_state.get(state)
        if due is None:
            due = due_by_state[state] = annual_due(policy, catalog, cycle, judged_on, state, calendar, launch)
        receipt = receipt_of(shown) if shown is not None else None
        out[staff_id] = Standing(staff_id, PledgeKind.ANNUAL, None, state, due, receipt)
    return out


async def request_standings(
    session: AsyncSession, staff_ids: Iterable[int], created_from: datetime | None = None
) -> list[Standing]:
    """Every request of these people (optionally only those made since `created_from`), oldest first."""
    ids = list(staff_ids)
    if not ids:
        return []
    query = REQUESTS
    if created_from is not None:
        query = query.where(REQUEST_ROWS.c.created_at >= created_from)
    requests: dict[int, Row[Any]] = {}  # by id, oldest first
    latest: dict[int, Row[Any]] = {}
    signed: dict[int, Row[Any]] = {}
    for row in await session.execute(query, {"staff_ids": ids}):
        requests.setdefault(row.request, row)
        if row.id is not None:
            latest[row.request] = row
            if row.outcome == Outcome.SIGNED:
                signed.setdefault(row.request, row)  # a request is answered once it is signed
    out = []
    for request_id, request in requests.items():
        shown: Row[Any] | None
        if request_id in signed:
            state, shown = PledgeState.SIGNED, signed[request_id]
        elif request_id in latest:
            state, shown = PledgeState.DECLINED, latest[request_id]
        else:
            state, shown = PledgeState.PENDING, None
        receipt = receipt_of(shown) if shown is not None else None
        # A departure approved on paper (completed) waits for no pledge.
        waiting = (
            DepartureInfo(
                request.departure,
                request.person,
                request.approved_on,
                Level(request.level),
                request.months,
                request.ends_on,
                False,
                request.departure_kind,
            )
            if request.departure is not None and request.completed_at is None
            else None
        )
        out.append(
            Standing(
                request.person,
                PledgeKind(request.pledge),
                request_id,
                state,
                request.due_on,
                receipt,
                request.title,
                waiting,
            )
        )
    return out


async def standings(
    session: AsyncSession, staff_ids: Sequence[int], today: date, cycle: int, policy: Policy, catalog: Catalog
) -> dict[int, tuple[Standing, list[Standing]]]:
    """Each person's yearly pledge of `cycle` and every request of theirs."""
    annual = await annual_standings(session, staff_ids, cycle, today, policy, catalog)
    requests: dict[int, list[Standing]] = {staff_id: [] for staff_id in staff_ids}
    for standing in await request_standings(session, staff_ids):
        requests[standing.staff_id].append(standing)
    return {staff_id: (annual[staff_id], requests[staff_id]) for staff_id in staff_ids}


async def owed(
    session: AsyncSession,
    staff_id: int,
    today: date,
    cycle: int,
    policy: Policy,
    catalog: Catalog,
    read: tuple[Standing, list[Standing]] | None = None,
) -> list[Owed]:
    """What the person has still to sign, most pressing first: a departure, onboarding, special tasks, the
    pledge of the cycle. `read`: their `standings`, when the caller has them."""
    annual, requests = read or (await standings(session, [staff_id], today, cycle, policy, catalog))[staff_id]
    out: list[Owed] = []
    open_requests = [s for s in requests if s.state is not PledgeState.SIGNED]
    for standing in sorted(open_requests, key=lambda s: (REQUESTED_KINDS.index(s.kind), s.due_on)):
        assert standing.request_id is not None
        departure = standing.departure
        if standing.kind is PledgeKind.DEPARTURE and departure is None:
            continue  # a departure approved on paper or cancelled is not asked for again
        out.append(
            Owed(
                standing.kind,
                standing.request_id,
                cycle,
                standing.due_on,
                standing.state,
                departure,
                standing.task_title,
            )
        )
    if annual.state is not PledgeState.SIGNED:
        out.append(Owed(PledgeKind.ANNUAL, None, cycle, annual.due_on, annual.state))
    return out


async def latest_signed(session: AsyncSession, staff_id: int) -> Receipt | None:
    row = await session.scalar(
        select(PledgeRecord)
        .where(PledgeRecord.staff_id == staff_id, PledgeRecord.outcome == Outcome.SIGNED)
        .order_by(PledgeRecord.id.desc())
        .limit(1)
    )
    return None if row is None else receipt_of(row)


async def receipts(session: AsyncSession, staff_id: int) -> list[Receipt]:
    """Every pledge record of the person (signed or declined), newest first."""
    rows = await session.scalars(
        select(PledgeRecord).where(PledgeRecord.staff_id == staff_id).order_by(PledgeRecord.id.desc())
    )
    return [receipt_of(row) for row in rows]


async def signed_record(
    session: AsyncSession, staff_id: int, record_id: int | None = None
) -> tuple[Receipt, str] | None:
    """A signed record of the person with the exact text signed (default: the latest), for the paper copy."""
    query = select(PledgeRecord).where(PledgeRecord.staff_id == staff_id, PledgeRecord.outcome == Outcome.SIGNED)
    if record_id is not None:
        query = query.where(PledgeRecord.id == record_id)
    row = await session.scalar(query.order_by(PledgeRecord.id.desc()).limit(1))
    return None if row is None else (receipt_of(row), row.text)


# --- the chain -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shown:
    """The pledge put in front of the person, exactly as it was shown."""

    kind: PledgeKind
    request_id: int | None
    cycle: int
    version: int
    text: str


async def _append(
    session: AsyncSession, now: datetime, staff_id: int, shown: Shown, outcome: Outcome, name: str | None, channel: str
) -> Receipt:
    await lock_chain(session, CHAIN)
    prev = await session.scalar(select(PledgeRecord.hash).order_by(PledgeRecord.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    digest = text_hash(shown.text)
    fields = ChainFields(
        staff_id,
        shown.request_id,
        shown.kind.value,
        shown.cycle,
        shown.version,
        outcome.value,
        digest,
        name,
        channel,
        now,
    )
    row = PledgeRecord(
        staff_id=staff_id,
        request_id=shown.request_id,
        kind=shown.kind.value,
        cycle=shown.cycle,
        version=shown.version,
        outcome=outcome.value,
        text=shown.text,
        text_hash=digest,
        signed_name=name,
        channel=channel,
        at=now,
        prev_hash=prev_hash,
        hash=record_hash(prev_hash, fields),
    )
    session.add(row)
    await session.flush()
    return receipt_of(row)


async def sign(
    session: AsyncSession, now: datetime, staff_id: int, shown: Shown, signed_name: str, channel: str
) -> Receipt:
    """Record the signature. A departure pledge is a precondition of approval (教育局保密工作制度篇3 第十三条), which
    the office gives afterwards; only a departure approved before it was signed (recorded before departures were
    procedures) is completed by it, ending the person's access."""
    receipt = await _append(session, now, staff_id, shown, Outcome.SIGNED, signed_name, channel)
    if shown.kind is PledgeKind.DEPARTURE and shown.request_id is not None:
        request = await session.get(PledgeRequest, shown.request_id)
        departure = await session.get(Departure, request.departure_id) if request and request.departure_id else None
        if departure is not None and departure.approved_on is not None and departure.completed_at is None:
            departure.completed_at = now
            await session.execute(
                update(Staff)
                .where(Staff.id == staff_id)
                .values(active=False, departed_on=departure.approved_on, updated_at=now)
                .execution_options(synchronize_session=False)
            )
    return receipt


async def decline(session: AsyncSession, now: datetime, staff_id: int, shown: Shown, channel: str) -> Receipt:
    return await _append(session, now, staff_id, shown, Outcome.DECLINED, None, channel)


async def already_answered(session: AsyncSession, staff_id: int, shown: Shown, today: date, catalog: Catalog) -> bool:
    """Whether this pledge was signed meanwhile (on another channel, or a second tap): then it is not signed
    twice."""
    query = select(PledgeRecord).where(
        PledgeRecord.staff_id == staff_id,
        PledgeRecord.outcome == Outcome.SIGNED,
        PledgeRecord.kind == shown.kind.value,
    )
    if shown.request_id is not None:
        query = query.where(PledgeRecord.request_id == shown.request_id)
    else:
        query = query.where(PledgeRecord.cycle == shown.cycle)
    rows = (await session.scalars(query)).all()
    return any(not catalog.superseded(PledgeKind(r.kind), r.version, today) for r in rows)


async def verify(session: AsyncSession) -> ChainReport:
    """Walk the chain from the first record: each must link to the one before and match its own hash and text."""
    prev_hash = GENESIS
    checked = 0
    rows = await session.stream_scalars(select(PledgeRecord).order_by(PledgeRecord.id))
    async for row in rows:
        if row.prev_hash != prev_hash:
            return ChainReport(checked, row.id, "prev_hash does not match the previous record")
        if text_hash(row.text) != row.text_hash:
            return ChainReport(checked, row.id, "the stored text does not match its hash")
        fields = ChainFields(
            row.staff_id,
            row.request_id,
            row.kind,
            row.cycle,
            row.version,
            row.outcome,
            row.text_hash,
            row.signed_name,
            row.channel,
            row.at,
        )
        if row.hash != record_hash(row.prev_hash, fields):
            return ChainReport(checked, row.id, "the record's content does not match its hash")
        prev_hash = row.hash
        checked += 1
    return ChainReport(checked, None, None)


# --- requests ----------------------------------------------------------------------------------------------
async def roster_dates(session: AsyncSession, staff_id: int, policy: Policy, tz: ZoneInfo) -> tuple[date, date]:
    """The day the person was added to the roster, and the bureau's launch (bot/services/launch.py); someone put on
    the roster other than by an import counts as there from the launch."""
    added = await session.scalar(select(Staff.created_at).where(Staff.id == staff_id))
    assert added is not None
    added_on = added.astimezone(tz).date()
    return added_on, await launch_day(session, policy) or added_on


async def open_onboarding(session: AsyncSession, now: datetime, staff_id: int, due_on: date) -> bool:
    """Ask a newly bound person for the onboarding pledge; False when they were asked before."""
    inserted = await insert_ignore(
        session,
        PledgeRequest,
        [
            {
                "staff_id": staff_id,
                "kind": PledgeKind.ONBOARDING.value,
                "key": PledgeKind.ONBOARDING.value,
                "task_id": None,
                "departure_id": None,
                "due_on": due_on,
                "created_by": None,
                "created_at": now,
            }
        ],
        ["staff_id", "key"],
    )
    return inserted == 1


async def departure_under_way(session: AsyncSession, request_id: int) -> tuple[DepartureInfo, Sequence[int]] | None:
    """The departure procedure a departure pledge request belongs to, while under way, and the officers to tell of
    the answer (the one who started it, else every officer): the pledge is a precondition of its approval."""
    row = await session.scalar(
        select(Departure)
        .join(PledgeRequest, PledgeRequest.departure_id == Departure.id)
        .where(PledgeRequest.id == request_id, Departure.approved_on.is_(None), Departure.cancelled_at.is_(None))
    )
    if row is None:
        return None
    return _departure(row), await staff_queries.officer_or_office(session, row.recorded_by)


async def start_special(
    session: AsyncSession, now: datetime, title: str, staff_ids: Sequence[int], due_on: date, created_by: int
) -> int:
    """A special task and one request per person of the group; returns the task id."""
    task = PledgeTask(title=title, due_on=due_on, created_by=created_by, created_at=now)
    session.add(task)
    await session.flush()
    for staff_id in staff_ids:
        session.add(
            PledgeRequest(
                staff_id=staff_id,
                kind=PledgeKind.SPECIAL.value,
                key=f"special:{task.id}",
                task_id=task.id,
                due_on=due_on,
                created_by=created_by,
                created_at=now,
            )
        )
    await session.flush()
    await audit.record(session, now, created_by, "pledge.special", f"pledge_task:{task.id}", people=len(staff_ids))
    return task.id


# --- the office's view ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    staff_id: int
    employee_id: str
    name: str
    department: str
    active: bool


@dataclass(frozen=True)
class OverviewRow:
    person: Person
    standing: Standing


async def overview(
    session: AsyncSession, cycle: int, as_of: date, timezone: ZoneInfo, policy: Policy, catalog: Catalog
) -> list[OverviewRow]:
    """Everyone in post during the cycle: the pledge of the cycle, then each request made in it."""
    start = cycle_start(cycle, policy.pledge_cycle_start_month)
    rows = (
        await session.execute(
            select(Staff, Department.name)
            .join(Department, Department.id == Staff.department_id)
            .where((Staff.active.is_(True)) | (Staff.departed_on >= start))
            .order_by(Department.name, Staff.employee_id)
        )
    ).all()
    people = [Person(s.id, s.employee_id, s.name, dept, s.active) for s, dept in rows]
    ids = [p.staff_id for p in people]
    annual = await annual_standings(session, ids, cycle, as_of, policy, catalog)
    since = datetime.combine(start, time(0), tzinfo=timezone)
    requests: dict[int, list[Standing]] = {}
    for standing in await request_standings(session, ids, since):
        requests.setdefault(standing.staff_id, []).append(standing)
    out = []
    for person in people:
        out.append(OverviewRow(person, annual[person.staff_id]))
        out.extend(OverviewRow(person, s) for s in requests.get(person.staff_id, []))
    return out


async def departures(session: AsyncSession, staff_id: int) -> list[DepartureInfo]:
    """Every departure recorded for the person, the latest first."""
    rows = await session.scalars(select(Departure).where(Departure.staff_id == staff_id).order_by(Departure.id.desc()))
    return [_departure(row) for row in rows]
