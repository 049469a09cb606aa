"""Review requests in storage: submitting, each reviewer's decision, resubmitting after a return, the ledger and
the backlog per unit. Every step is an entry of the audit chain (bot/services/audit.py); a decision keeps the hash
of its entry, and an approved request the hash of the entry that gave it its number.

A stage passes without a press when nobody else can take it: the submitter is the only one holding its role (a
head submitting their own unit's item: Decision.SELF), or the unit has no head (Decision.SKIPPED: the secrecy
office reviews in its place). An office or leader stage that nobody holds waits, and the clock escalates it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.db.models import Department, Staff
from bot.db.models_review import ReviewDecision, ReviewRequest
from bot.domain.levels import Role
from bot.domain.workdays import WorkCalendar
from bot.handlers.review import rules
from bot.handlers.review.rules import Channel, Decision, Kind, Stage, Status
from bot.services import audit, staff_queries
from bot.services.audit import lock_chain
from bot.services.people import Person
from bot.services.sentlog import not_claimed

LEDGER_SCAN = 200  # recent requests looked at for a leader's /reviews (their stage is found in Python)


@dataclass(frozen=True)
class Draft:
    """What the submitter gives: metadata only, never the draft itself."""

    channel: Channel
    channel_name: str | None  # typed for Channel.OTHER
    title: str
    kind: Kind
    planned_on: date
    draft_ref: str  # the draft's link or number in the unit's own system


@dataclass(frozen=True)
class DecisionInfo:
    round: int
    stage: Stage
    decision: Decision
    reviewer_id: int | None
    reviewer_name: str | None
    reason: str | None
    at: datetime
    record_hash: str


@dataclass(frozen=True)
class RequestInfo:
    id: int
    draft: Draft
    submitter_id: int
    submitter_name: str
    department_id: int
    department: str
    chain: tuple[Stage, ...]
    status: Status
    round: int
    stage_index: int
    stage_since: datetime
    submitted_at: datetime
    decided_at: datetime | None
    number: str | None
    record_hash: str | None
    decisions: tuple[DecisionInfo, ...]  # every round's, in order

    @property
    def stage(self) -> Stage | None:
        """The stage waiting for a decision (None once the request is back with the submitter or decided)."""
        return self.chain[self.stage_index] if self.status is Status.REVIEWING else None

    @property
    def last_decision(self) -> DecisionInfo | None:
        return self.decisions[-1] if self.decisions else None

    def round_decisions(self, round_: int | None = None) -> list[DecisionInfo]:
        """The decisions of a round (default: the current one)."""
        wanted = self.round if round_ is None else round_
        return [d for d in self.decisions if d.round == wanted]


class Outcome(StrEnum):
    DONE = "done"
    TAKEN = "taken"  # the stage was decided already (another reviewer, a double tap) or the request moved on
    NOT_ALLOWED = "not_allowed"  # not a reviewer of this stage


@dataclass(frozen=True)
class Decided:
    outcome: Outcome
    request: RequestInfo


@dataclass(frozen=True)
class UnitBacklog:
    """Requests of one unit waiting for a reviewer, and how many of them are past the policy's limit."""

    department: str
    waiting: int
    overdue: int


# --- the submitter ----------------------------------------------------------------------------------------------
async def submit(
    session: AsyncSession, now: datetime, policy: Policy, tz: ZoneInfo, submitter: Person, draft: Draft
) -> RequestInfo:
    """Store a new request and start its chain (the caller tells the first reviewers)."""
    chain = rules.chain_for(draft.kind, policy.review_chains, policy.review_default_chain)
    row = ReviewRequest(
        submitter_staff_id=submitter.id,
        department_id=submitter.department_id,
        chain=[str(s) for s in chain],
        status=Status.REVIEWING,
        round=1,
        stage_index=0,
        stage_since=now,
        submitted_at=now,
        updated_at=now,
        **_draft_columns(draft),
    )
    session.add(row)
    await session.flush()
    await audit.record(session, now, submitter.id, "review.submit", _subject(row.id), **_draft_detail(draft, chain))
    await _advance(session, now, tz, row)
    return await _info(session, row.id)


async def resubmit(
    session: AsyncSession,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    submitter: Person,
    request_id: int,
    draft: Draft,
) -> RequestInfo | None:
    """A returned request, changed, starts its next round from the first stage; None when it is not the
    submitter's returned request (any more)."""
    row = await _lock(session, request_id)
    if row is None or row.submitter_staff_id != submitter.id or row.status != Status.RETURNED:
        return None
    chain = rules.chain_for(draft.kind, policy.review_chains, policy.review_default_chain)
    for key, value in _draft_columns(draft).items():
        setattr(row, key, value)
    row.chain, row.status, row.round, row.stage_index = [str(s) for s in chain], Status.REVIEWING, row.round + 1, 0
    row.stage_since = row.updated_at = now
    await audit.record(
        session, now, submitter.id, "review.resubmit", _subject(row.id), round=row.round, **_draft_detail(draft, chain)
    )
    await _advance(session, now, tz, row)
    return await _info(session, row.id)


async def withdraw(session: AsyncSession, now: datetime, submitter: Person, request_id: int) -> RequestInfo | None:
    """The submitter gives up a returned request; None when it is not theirs or not returned (any more)."""
    row = await _lock(session, request_id)
    if row is None or row.submitter_staff_id != submitter.id or row.status != Status.RETURNED:
        return None
    row.status, row.decided_at, row.updated_at = Status.WITHDRAWN, now, now
    await audit.record(session, now, submitter.id, "review.withdraw", _subject(row.id), round=row.round)
    return await _info(session, row.id)


# --- the reviewers ----------------------------------------------------------------------------------------------
async def decide(
    session: AsyncSession,
    now: datetime,
    tz: ZoneInfo,
    reviewer: Person,
    request_id: int,
    round_: int,
    stage: Stage,
    decision: Decision,
    reason: str | None = None,
) -> Decided | None:
    """同意 / 退回修改 / 不同意 on the stage a reviewer was shown; a reason (already guarded) goes with the last two.
    None when there is no such request."""
    row = await _lock(session, request_id)
    if row is None:
        return None
    waiting = row.status == Status.REVIEWING and row.round == round_ and row.chain[row.stage_index] == stage
    if not waiting:
        return Decided(Outcome.TAKEN, await _info(session, row.id))
    if reviewer.id == row.submitter_staff_id or not rules.may_review(
        stage, reviewer.roles, reviewer.department_id, row.department_id
    ):
        return Decided(Outcome.NOT_ALLOWED, await _info(session, row.id))
    await _record(session, now, row, stage, reviewer.id, decision, reason)
    row.updated_at = now
    if decision is Decision.APPROVE:
        row.stage_index += 1
        row.stage_since = now
        await _advance(session, now, tz, row)
    elif decision is Decision.RETURN:
        row.status = Status.RETURNED
    else:
        row.status, row.decided_at = Status.REFUSED, now
    return Decided(Outcome.DONE, await _info(session, row.id))


async def reviewer_ids(session: AsyncSession, request: RequestInfo) -> list[int]:
    """Who may decide the waiting stage (the submitter never does)."""
    if request.stage is None:
        return []
    return [s for s in await _holders(session, request.stage, request.department_id) if s != request.submitter_id]


async def escalation_ids(session: AsyncSession, policy: Policy, request: RequestInfo) -> list[int]:
    """Who is told when the waiting stage is escalated: the role above it and the policy's contacts."""
    if request.stage is None:
        return []
    found: list[int] = []
    for role in rules.escalation_roles(request.stage):
        found += await staff_queries.role_ids(session, role)
    if policy.review_escalation_contacts:
        named = _active(Staff.employee_id.in_(policy.review_escalation_contacts)).order_by(Staff.id)
        found += (await session.scalars(named)).all()
    return [s for s in dict.fromkeys(found) if s != request.submitter_id]


# --- reading ----------------------------------------------------------------------------------------------------
async def get(session: AsyncSession, request_id: int) -> RequestInfo | None:
    found = await _infos(session, ReviewRequest.id == request_id)
    return found[0] if found else None


async def by_number(session: AsyncSession, number: str) -> RequestInfo | None:
    found = await _infos(session, ReviewRequest.number == number.strip().upper())
    return found[0] if found else None


async def waiting(
    session: AsyncSession, remind_before: datetime, escalate_before: datetime, duty: str, period: str
) -> list[RequestInfo]:
    """What the clock may have to act on, the longest waiting first: stages that arrived before `remind_before`
    and whose reminder is not in the sent-log (steps "nudge" / "escalate" of `duty` and `period`, subject
    `stage_subject`), or arrived before `escalate_before` and are not escalated yet. A tick after both went out
    reads nothing."""
    subject = _stage_subject_sql()
    where = and_(
        ReviewRequest.status == Status.REVIEWING,
        ReviewRequest.stage_since < remind_before,
        not_claimed(duty, period, "escalate", subject),
        or_(not_claimed(duty, period, "nudge", subject), ReviewRequest.stage_since < escalate_before),
    )
    return sorted(await _infos(session, where), key=lambda r: (r.stage_since, r.id))


def stage_subject(request: RequestInfo) -> str:
    """The sent-log subject of a request's waiting stage in its round: request:12:r2:s1."""
    return f"request:{request.id}:r{request.round}:s{request.stage_index}"


def _stage_subject_sql() -> ColumnElement[str]:
    """`stage_subject`, in SQL."""
    return (
        literal("request:")
        + cast(ReviewRequest.id, String)
        + literal(":r")
        + cast(ReviewRequest.round, String)
        + literal(":s")
        + cast(ReviewRequest.stage_index, String)
    )


async def ledger(session: AsyncSession, viewer: Person, limit: int) -> list[RequestInfo]:
    """What /reviews lists for a viewer: the office sees every unit, a head their own, a leader what reaches
    their stage. Those the viewer can decide now come first, then the others waiting, then the newest."""
    waiting_first = case((ReviewRequest.status == Status.REVIEWING, 0), else_=1)
    query = select(ReviewRequest.id).order_by(waiting_first, ReviewRequest.updated_at.desc(), ReviewRequest.id.desc())
    leader_only = not viewer.has(Role.OFFICER) and viewer.has(Role.LEADER)
    if not viewer.has(Role.OFFICER) and not leader_only:
        query = query.where(ReviewRequest.department_id == viewer.department_id)
    ids = list((await session.scalars(query.limit(LEDGER_SCAN if leader_only else limit))).all())
    found = await _infos(session, ReviewRequest.id.in_(ids)) if ids else []
    if leader_only:  # which requests reach the leader's stage is known only from their chains
        own_unit = viewer.has(Role.HEAD)
        found = [r for r in found if Stage.LEADER in r.chain or (own_unit and r.department_id == viewer.department_id)]
    order = {request_id: i for i, request_id in enumerate(ids)}
    return sorted(found, key=lambda r: (0 if may_decide(viewer, r) else 1, order[r.id]))[:limit]


def may_decide(person: Person, request: RequestInfo) -> bool:
    """Whether the person may decide the request's waiting stage now."""
    stage = request.stage
    return (
        stage is not None
        and person.id != request.submitter_id
        and rules.may_review(stage, person.roles, person.department_id, request.department_id)
    )


async def all_requests(session: AsyncSession, tz: ZoneInfo, year: int | None = None) -> list[RequestInfo]:
    """The ledger (登记表): every request, or those first submitted in `year` (local time), oldest first."""
    found = await _infos(session, None)
    return [r for r in found if year is None or r.submitted_at.astimezone(tz).year == year]


async def backlog(
    session: AsyncSession, today: date, tz: ZoneInfo, policy: Policy, calendar: WorkCalendar
) -> list[UnitBacklog]:
    """Per unit, the requests waiting for a reviewer and those past the limit; the most overdue units first."""
    rows = (
        await session.execute(
            select(Department.name, ReviewRequest.stage_since)
            .join(Department, Department.id == ReviewRequest.department_id)
            .where(ReviewRequest.status == Status.REVIEWING)
        )
    ).all()
    waiting_count: Counter[str] = Counter()
    overdue_count: Counter[str] = Counter()
    for department, since in rows:
        waiting_count[department] += 1
        if rules.is_overdue(since.astimezone(tz).date(), today, calendar, policy.review_limit_days):
            overdue_count[department] += 1
    units = [UnitBacklog(d, waiting_count[d], overdue_count[d]) for d in waiting_count]
    return sorted(units, key=lambda u: (-u.overdue, -u.waiting, u.department))


# --- inside -----------------------------------------------------------------------------------------------------
async def _advance(session: AsyncSession, now: datetime, tz: ZoneInfo, row: ReviewRequest) -> None:
    """Pass the stages nobody else can take (recorded all the same); approve when none is left."""
    while row.stage_index < len(row.chain):
        stage = Stage(row.chain[row.stage_index])
        holders = await _holders(session, stage, row.department_id)
        if any(h != row.submitter_staff_id for h in holders):
            return  # waits for a reviewer
        if row.submitter_staff_id in holders:
            await _record(session, now, row, stage, row.submitter_staff_id, Decision.SELF, None)
        elif stage is Stage.HEAD:
            await _record(session, now, row, stage, None, Decision.SKIPPED, None)
        else:
            return  # nobody holds the role: it waits, and the clock escalates it
        row.stage_index += 1
        row.stage_since = now
    await _approve(session, now, tz, row)


async def _approve(session: AsyncSession, now: datetime, tz: ZoneInfo, row: ReviewRequest) -> None:
    """Every stage agreed: the 审查单 draws the year's next number, recorded in the audit chain."""
    await lock_chain(session, "review_number")  # two approvals at once must not draw the same number
    year = now.astimezone(tz).year
    seq = (await session.scalar(select(func.max(ReviewRequest.seq)).where(ReviewRequest.year == year)) or 0) + 1
    row.status, row.decided_at, row.updated_at = Status.APPROVED, now, now
    row.year, row.seq, row.number = year, seq, rules.review_number(year, seq)
    row.stage_index = len(row.chain) - 1  # the last stage, for whoever reads `chain[stage_index]`
    entry = await audit.record(
        session, now, None, "review.approved", _subject(row.id), number=row.number, round=row.round, title=row.title
    )
    row.record_hash = entry.hash
    await session.flush()


async def _record(
    session: AsyncSession,
    now: datetime,
    row: ReviewRequest,
    stage: Stage,
    actor: int | None,
    decision: Decision,
    reason: str | None,
) -> None:
    entry = await audit.record(
        session, now, actor, f"review.{decision}", _subject(row.id), round=row.round, stage=stage, reason=reason
    )
    session.add(
        ReviewDecision(
            request_id=row.id,
            round=row.round,
            stage=stage,
            reviewer_staff_id=actor,
            decision=decision,
            reason=reason,
            at=now,
            record_hash=entry.hash,
        )
    )
    await session.flush()


async def _holders(session: AsyncSession, stage: Stage, department_id: int) -> list[int]:
    """Active staff holding the stage's role (for the head stage: in the request's unit)."""
    if stage is Stage.HEAD:
        query = _active(Staff.is_head.is_(True), Staff.department_id == department_id)
    elif stage is Stage.OFFICE:
        query = _active(Staff.is_officer.is_(True))
    else:
        query = _active(Staff.is_leader.is_(True))
    return list((await session.scalars(query.order_by(Staff.id))).all())


def _active(*where: ColumnElement[bool]) -> Any:
    return select(Staff.id).where(Staff.active.is_(True), *where)


async def _lock(session: AsyncSession, request_id: int) -> ReviewRequest | None:
    return await session.get(ReviewRequest, request_id, with_for_update=True, populate_existing=True)


def _subject(request_id: int) -> str:
    return f"review:{request_id}"


def _draft_columns(draft: Draft) -> dict[str, Any]:
    return {
        "channel": draft.channel,
        "channel_name": draft.channel_name,
        "title": draft.title,
        "kind": draft.kind,
        "planned_on": draft.planned_on,
        "draft_ref": draft.draft_ref,
    }


def _draft_detail(draft: Draft, chain: Sequence[Stage]) -> dict[str, Any]:
    return {
        "channel": draft.channel,
        "channel_name": draft.channel_name,
        "title": draft.title,
        "kind": draft.kind,
        "planned_on": draft.planned_on.isoformat(),
        "draft_ref": draft.draft_ref,
        "chain": [str(s) for s in chain],
    }


async def _info(session: AsyncSession, request_id: int) -> RequestInfo:
    """The request as just changed (written first: the rows read below bypass the ORM's own view of it)."""
    await session.flush()
    found = await get(session, request_id)
    assert found is not None
    return found


async def _infos(session: AsyncSession, where: ColumnElement[bool] | None) -> list[RequestInfo]:
    # Plain rows, not ORM entities: a sweep reading many requests then runs a query for each, and every ORM entity
    # in the session would be checked for changes before each of those queries.
    query = (
        select(*ReviewRequest.__table__.columns, Staff.name.label("submitter_name"), Department.name.label("unit"))
        .join(Staff, Staff.id == ReviewRequest.submitter_staff_id)
        .join(Department, Department.id == ReviewRequest.department_id)
        .order_by(ReviewRequest.id)
    )
    if where is not None:
        query = query.where(where)
    rows = (await session.execute(query)).all()
    if not rows:
        return []
    decision_query = (
        select(*ReviewDecision.__table__.columns, Staff.name.label("reviewer_name"))
        .outerjoin(Staff, Staff.id == ReviewDecision.reviewer_staff_id)
        .order_by(ReviewDecision.id)
    )
    if where is not None:
        decision_query = decision_query.where(ReviewDecision.request_id.in_([row.id for row in rows]))
    decisions: dict[int, list[DecisionInfo]] = {}
    for d in (await session.execute(decision_query)).all():
        decisions.setdefault(d.request_id, []).append(
            DecisionInfo(
                d.round,
                Stage(d.stage),
                Decision(d.decision),
                d.reviewer_staff_id,
                d.reviewer_name,
                d.reason,
                d.at,
                d.record_hash,
            )
        )
    return [_of(row, decisions.get(row.id, [])) for row in rows]


def _of(row: Any, decisions: list[DecisionInfo]) -> RequestInfo:
    draft = Draft(
        channel=Channel(row.channel),
        channel_name=row.channel_name,
        title=row.title,
        kind=Kind(row.kind),
        planned_on=row.planned_on,
        draft_ref=row.draft_ref,
    )
    return RequestInfo(
        id=row.id,
        draft=draft,
        submitter_id=row.submitter_staff_id,
        submitter_name=row.submitter_name,
        department_id=row.department_id,
        department=row.unit,
        chain=tuple(Stage(s) for s in row.chain),
        status=Status(row.status),
        round=row.round,
        stage_index=row.stage_index,
        stage_since=row.stage_since,
        submitted_at=row.submitted_at,
        decided_at=row.decided_at,
        number=row.number,
        record_hash=row.record_hash,
        decisions=tuple(decisions),
    )
