"""Leak cases in storage: opening a case, the officers' actions on it, its hash-chained events, the reporter.

A withheld reporter's name never leaves this module except through `reveal_reporter`, which is audit-logged:
`CaseInfo.reporter_name` is filled only for cases reported under the reporter's name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.db.models import Department, Staff
from bot.db.models_leak import LeakCase, LeakCaseEvent, LeakReporter
from bot.handlers.leak import rules as leak
from bot.handlers.leak.rules import Carrier, Discovered, Kind, Marked, Measure, Status, Whose
from bot.services import audit
from bot.services.audit import GENESIS, ChainReport, chain_hash, lock_chain

EVENT_CHAIN = "leak_case_event"


@dataclass(frozen=True)
class Report:
    """What a reporter tells: metadata only."""

    kind: Kind
    whose: Whose
    discovered: Discovered
    discovered_on: date
    place: str
    carrier: Carrier
    carrier_count: int | None
    level: Marked
    measures: tuple[Measure, ...] = ()
    measures_note: str | None = None
    name_withheld: bool = False
    discovered_at: datetime | None = None  # the moment the clocks run from; None: discovered as it is reported


@dataclass(frozen=True)
class CaseInfo:
    id: int
    number: str
    status: Status
    report: Report
    reported_at: datetime
    reported_late: bool
    acknowledged_at: datetime | None
    written_report_due: datetime | None  # None: no state secret, so no 24-hour report (rules.written_report_due)
    written_report_sent_at: datetime | None
    conclusion_due: datetime
    concluded_at: datetime | None
    carrier_deadline: datetime | None
    carrier_found_at: datetime | None
    carrier_deemed_at: datetime | None
    reporter_name: str | None  # None when withheld
    reporter_department: str | None

    @property
    def is_open(self) -> bool:
        return self.status is not Status.CONCLUDED

    @property
    def carrier_pending(self) -> bool:
        """A missing carrier whose clock still runs."""
        return self.carrier_deadline is not None and self.carrier_found_at is None and self.carrier_deemed_at is None

    @property
    def next_deadline(self) -> datetime | None:
        if not self.is_open:
            return None
        return leak.next_deadline(
            None if self.written_report_sent_at else self.written_report_due,
            self.carrier_deadline if self.carrier_pending else None,
            self.conclusion_due,
        )


@dataclass(frozen=True)
class Identity:
    name: str
    employee_id: str
    department: str


@dataclass(frozen=True)
class EventInfo:
    case_number: str
    at: datetime
    kind: str
    actor_name: str | None
    detail: dict[str, Any]
    hash: str


async def open_case(
    session: AsyncSession, now: datetime, policy: Policy, tz: ZoneInfo, reporter_staff_id: int, report: Report
) -> CaseInfo:
    """Store a new case with its number and clocks, status 已报告 (the caller queues the officers' alert)."""
    await lock_chain(session, "leak_case_number")  # two reports at once must not draw the same number
    year = now.astimezone(tz).year
    seq = (await session.scalar(select(func.max(LeakCase.seq)).where(LeakCase.year == year)) or 0) + 1
    discovered_at = report.discovered_at or now
    days = leak.carrier_days(
        report.kind, report.level, policy.missing_carrier_days_top_secret, policy.missing_carrier_days_other
    )
    case = LeakCase(
        number=leak.case_number(year, seq),
        year=year,
        seq=seq,
        kind=report.kind,
        whose=report.whose,
        discovered=report.discovered,
        discovered_on=report.discovered_on,
        place=report.place,
        carrier=report.carrier,
        carrier_count=report.carrier_count,
        level=report.level,
        measures=[str(m) for m in report.measures],
        measures_note=report.measures_note,
        name_withheld=report.name_withheld,
        status=Status.REPORTED,
        discovered_at=discovered_at,
        reported_at=now,
        reported_late=leak.reported_late(discovered_at, now, policy.leak_written_report_hours),
        written_report_due=leak.written_report_due(discovered_at, policy.leak_written_report_hours, report.level),
        conclusion_due=leak.conclusion_due(discovered_at, policy.leak_conclusion_months),
        carrier_deadline=None if days is None else leak.carrier_deadline(report.discovered_on, days, tz),
        updated_at=now,
    )
    session.add(case)
    await session.flush()
    session.add(LeakReporter(case_id=case.id, staff_id=reporter_staff_id))
    actor = None if report.name_withheld else reporter_staff_id
    await _event(session, now, case.id, actor, "submitted", {"number": case.number})
    info = await get_case(session, case.id)
    assert info is not None
    return info


async def get_case(session: AsyncSession, case_id: int) -> CaseInfo | None:
    rows = await _cases(session, LeakCase.id == case_id)
    return rows[0] if rows else None


async def open_cases(session: AsyncSession) -> list[CaseInfo]:
    """Cases not concluded, the soonest deadline first."""
    rows = await _cases(session, LeakCase.status != Status.CONCLUDED)
    return sorted(rows, key=lambda c: (c.next_deadline or c.conclusion_due, c.id))


async def all_cases(session: AsyncSession) -> list[CaseInfo]:
    return await _cases(session, None)


async def reported_by(session: AsyncSession, staff_id: int, limit: int = 5) -> list[tuple[str, Status]]:
    """The person's own latest reports, newest first: number and status only."""
    rows = (
        await session.execute(
            select(LeakCase.number, LeakCase.status)
            .join(LeakReporter, LeakReporter.case_id == LeakCase.id)
            .where(LeakReporter.staff_id == staff_id)
            .order_by(LeakCase.id.desc())
            .limit(limit)
        )
    ).all()
    return [(number, Status(status)) for number, status in rows]


async def reporter_of(session: AsyncSession, case_id: int) -> int | None:
    return await session.scalar(select(LeakReporter.staff_id).where(LeakReporter.case_id == case_id))


async def acknowledge(session: AsyncSession, now: datetime, case_id: int, officer_id: int) -> bool:
    """受理: stops the repeated alerts; False when someone acknowledged it already."""
    case = await session.get(LeakCase, case_id, with_for_update=True)
    if case is None or case.acknowledged_at is not None:
        return False
    case.acknowledged_at, case.acknowledged_by, case.updated_at = now, officer_id, now
    if case.status == Status.REPORTED:
        case.status = Status.ACCEPTED
    await _event(session, now, case_id, officer_id, "acknowledged", {"status": case.status})
    return True


async def set_status(
    session: AsyncSession, now: datetime, case_id: int, officer_id: int, status: Status, note: str | None
) -> bool:
    """A status change with an optional (already guarded) note; any change also acknowledges the alert."""
    case = await session.get(LeakCase, case_id, with_for_update=True)
    if case is None:
        return False
    case.status, case.updated_at = status, now
    if case.acknowledged_at is None:
        case.acknowledged_at, case.acknowledged_by = now, officer_id
    case.concluded_at = now if status is Status.CONCLUDED else None
    await _event(session, now, case_id, officer_id, "status", {"status": status, "note": note})
    return True


async def mark_written_report_sent(session: AsyncSession, now: datetime, case_id: int, officer_id: int) -> bool:
    case = await session.get(LeakCase, case_id, with_for_update=True)
    if case is None or case.written_report_sent_at is not None:
        return False
    case.written_report_sent_at, case.updated_at = now, now
    await _event(session, now, case_id, officer_id, "written_report_sent", {})
    return True


async def mark_carrier_found(session: AsyncSession, now: datetime, case_id: int, officer_id: int) -> bool:
    case = await session.get(LeakCase, case_id, with_for_update=True)
    if case is None or case.carrier_deadline is None or case.carrier_found_at is not None:
        return False
    case.carrier_found_at, case.updated_at = now, now
    await _event(session, now, case_id, officer_id, "carrier_found", {})
    return True


async def mark_carrier_deemed(session: AsyncSession, now: datetime, case_id: int) -> bool:
    """The missing carrier's clock ran out: from now on it is handled as a leak."""
    case = await session.get(LeakCase, case_id, with_for_update=True)
    if case is None or case.carrier_found_at is not None or case.carrier_deemed_at is not None:
        return False
    case.carrier_deemed_at, case.updated_at = now, now
    await _event(session, now, case_id, None, "carrier_deemed_leaked", {})
    return True


async def record_relay(
    session: AsyncSession, now: datetime, case_id: int, actor_staff_id: int, text: str, *, to_reporter: bool
) -> None:
    """A message between the office and the reporter (already guarded). A withheld reporter is not named."""
    actor: int | None = actor_staff_id
    if not to_reporter:
        case = await session.get(LeakCase, case_id)
        if case is not None and case.name_withheld:
            actor = None
    await _event(
        session, now, case_id, actor, "relay_to_reporter" if to_reporter else "relay_from_reporter", {"text": text}
    )


async def reveal_reporter(session: AsyncSession, now: datetime, case_id: int, officer_id: int) -> Identity | None:
    """The reporter's identity for one officer who asked for it explicitly; audit-logged and a case event."""
    row = (
        await session.execute(
            select(Staff.name, Staff.employee_id, Department.name)
            .join(LeakReporter, LeakReporter.staff_id == Staff.id)
            .join(Department, Department.id == Staff.department_id)
            .where(LeakReporter.case_id == case_id)
        )
    ).first()
    if row is None:
        return None
    await audit.record(session, now, officer_id, "leak.reveal_reporter", f"leak_case:{case_id}")
    await _event(session, now, case_id, officer_id, "reporter_revealed", {})
    return Identity(row[0], row[1], row[2])


async def events(session: AsyncSession) -> list[EventInfo]:
    rows = (
        await session.execute(
            select(LeakCaseEvent, LeakCase.number, Staff.name)
            .join(LeakCase, LeakCase.id == LeakCaseEvent.case_id)
            .outerjoin(Staff, Staff.id == LeakCaseEvent.actor_staff_id)
            .order_by(LeakCaseEvent.id)
        )
    ).all()
    return [EventInfo(number, e.at, e.kind, name, e.detail, e.hash) for e, number, name in rows]


async def verify_events(session: AsyncSession) -> ChainReport:
    prev_hash = GENESIS
    checked = 0
    for row in (await session.scalars(select(LeakCaseEvent).order_by(LeakCaseEvent.id))).all():
        if row.prev_hash != prev_hash:
            return ChainReport(checked, row.id, "prev_hash does not match the previous row")
        expected = chain_hash(
            row.prev_hash, row.at, row.actor_staff_id, row.kind, f"leak_case:{row.case_id}", row.detail
        )
        if row.hash != expected:
            return ChainReport(checked, row.id, "the row's content does not match its hash")
        prev_hash = row.hash
        checked += 1
    return ChainReport(checked, None, None)


async def staff_ids_by_employee_id(session: AsyncSession, employee_ids: tuple[str, ...]) -> list[int]:
    """Active staff named in the policy (escalation contacts); unknown ids are skipped."""
    if not employee_ids:
        return []
    found = await session.scalars(
        select(Staff.id).where(Staff.employee_id.in_(employee_ids), Staff.active.is_(True)).order_by(Staff.id)
    )
    return list(found.all())


async def _event(
    session: AsyncSession, now: datetime, case_id: int, actor: int | None, kind: str, detail: dict[str, Any]
) -> None:
    await lock_chain(session, EVENT_CHAIN)
    prev = await session.scalar(select(LeakCaseEvent.hash).order_by(LeakCaseEvent.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    session.add(
        LeakCaseEvent(
            case_id=case_id,
            at=now,
            actor_staff_id=actor,
            kind=kind,
            detail=detail,
            prev_hash=prev_hash,
            hash=chain_hash(prev_hash, now, actor, kind, f"leak_case:{case_id}", detail),
        )
    )
    await session.flush()


async def _cases(session: AsyncSession, where: Any) -> list[CaseInfo]:
    query = (
        select(LeakCase, Staff.name, Department.name)
        .join(LeakReporter, LeakReporter.case_id == LeakCase.id)
        .join(Staff, Staff.id == LeakReporter.staff_id)
        .join(Department, Department.id == Staff.department_id)
        .order_by(LeakCase.id)
    )
    if where is not None:
        query = query.where(where)
    return [_info(case, name, dept) for case, name, dept in (await session.execute(query)).all()]


def _info(case: LeakCase, reporter_name: str, reporter_department: str) -> CaseInfo:
    report = Report(
        kind=Kind(case.kind),
        whose=Whose(case.whose),
        discovered=Discovered(case.discovered),
        discovered_on=case.discovered_on,
        place=case.place,
        carrier=Carrier(case.carrier),
        carrier_count=case.carrier_count,
        level=Marked(case.level),
        measures=tuple(Measure(m) for m in case.measures),
        measures_note=case.measures_note,
        name_withheld=case.name_withheld,
        discovered_at=case.discovered_at,
    )
    return CaseInfo(
        id=case.id,
        number=case.number,
        status=Status(case.status),
        report=report,
        reported_at=case.reported_at,
        reported_late=case.reported_late,
        acknowledged_at=case.acknowledged_at,
        written_report_due=case.written_report_due,
        written_report_sent_at=case.written_report_sent_at,
        conclusion_due=case.conclusion_due,
        concluded_at=case.concluded_at,
        carrier_deadline=case.carrier_deadline,
        carrier_found_at=case.carrier_found_at,
        carrier_deemed_at=case.carrier_deemed_at,
        reporter_name=None if case.name_withheld else reporter_name,
        reporter_department=None if case.name_withheld else reporter_department,
    )
