"""Storage of the training quiz: papers drawn, answers recorded, results, reviews, certificates, statistics.

Functions take a session, plain values and `now`; they never commit (the edge owns the transaction).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff
from bot.db.models_quiz import QuizAnswer, QuizAttempt
from bot.db.upsert import insert_ignore
from bot.handlers.quiz import rules as quizrules
from bot.handlers.quiz.bank import BankProblem, DrawnQuestion, score_percent
from bot.texts import MESSAGES, Texts

BANK_PATH = MESSAGES / "quiz" / "bank.yaml"
# Without 0/O, 1/I/L: the code is read off a phone and typed in.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12

OPEN, FINISHED, EXPIRED = "open", "finished", "expired"
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


def describe_problems(problems: Sequence[BankProblem], texts: Texts, locale: str) -> list[str]:
    """Each problem of a question bank, in order, with where it is, in `locale` (messages/quiz/bank_problem)."""
    return [texts.render("quiz/bank_problem", locale, where=p.where, code=p.code.value, **p.params) for p in problems]


@dataclass(frozen=True)
class Attempt:
    id: int
    staff_id: int
    cycle: int
    paper: tuple[DrawnQuestion, ...]
    status: str
    started_at: datetime
    deadline_at: datetime
    finished_at: datetime | None
    correct: int | None
    score: int | None
    passed: bool | None
    review: str | None
    certificate_code: str | None

    @property
    def total(self) -> int:
        return len(self.paper)

    @property
    def counts(self) -> bool:
        return quizrules.counts(status=self.status, passed=self.passed, review=self.review)


@dataclass(frozen=True)
class Answer:
    position: int
    question_id: str
    chosen: tuple[int, ...]
    is_correct: bool


@dataclass(frozen=True)
class Certificate:
    code: str
    employee_id: str
    name: str
    department: str
    cycle: int
    finished_at: datetime
    score: int


@dataclass(frozen=True)
class MissRate:
    question_id: str
    answered: int
    missed: int

    @property
    def percent(self) -> int:
        return score_percent(self.missed, self.answered)


@dataclass(frozen=True)
class ExportRow:
    employee_id: str
    name: str
    department: str
    attempt: Attempt


def _attempt(row: QuizAttempt | Row[Any]) -> Attempt:
    return Attempt(
        id=row.id,
        staff_id=row.staff_id,
        cycle=row.cycle,
        paper=tuple(DrawnQuestion(item["q"], tuple(item["o"])) for item in row.paper),
        status=row.status,
        started_at=row.started_at,
        deadline_at=row.deadline_at,
        finished_at=row.finished_at,
        correct=row.correct,
        score=row.score,
        passed=row.passed,
        review=row.review,
        certificate_code=row.certificate_code,
    )


# --- a person's papers ---------------------------------------------------------------------------------
async def get(session: AsyncSession, attempt_id: int) -> Attempt | None:
    row = await session.get(QuizAttempt, attempt_id)
    return None if row is None else _attempt(row)


async def open_attempt(session: AsyncSession, staff_id: int) -> Attempt | None:
    row = await session.scalar(
        select(QuizAttempt).where(QuizAttempt.staff_id == staff_id, QuizAttempt.status == OPEN).limit(1)
    )
    return None if row is None else _attempt(row)


@dataclass(frozen=True)
class Papers:
    """A person's papers as /status tells them: the one under way, and of the cycle the best that counts and the
    latest."""

    current: Attempt | None
    best: Attempt | None
    last: Attempt | None


# Built once: its cache key is worked out once, not at every /status. On the table, not the ORM entity: plain rows
# skip the ORM's work at each execution (every writer of a paper flushes it as it writes).
ATTEMPTS = QuizAttempt.__table__
PAPERS = (
    select(ATTEMPTS)
    .where(
        ATTEMPTS.c.staff_id.in_(bindparam("staff_ids", expanding=True)),
        or_(ATTEMPTS.c.cycle == bindparam("cycle"), ATTEMPTS.c.status == OPEN),
    )
    .order_by(ATTEMPTS.c.id)
)


async def papers(session: AsyncSession, staff_ids: Sequence[int], cycle: int) -> dict[int, Papers]:
    """`open_attempt`, `best_counting` and `latest` of each person, in one statement."""
    read: dict[int, list[Attempt]] = {staff_id: [] for staff_id in staff_ids}
    for row in await session.execute(PAPERS, {"staff_ids": list(staff_ids), "cycle": cycle}):
        read[row.staff_id].append(_attempt(row))
    return {staff_id: _papers(attempts, cycle) for staff_id, attempts in read.items()}


def _papers(read: list[Attempt], cycle: int) -> Papers:
    of_cycle = [a for a in read if a.cycle == cycle]
    counting = [a for a in of_cycle if a.status == FINISHED and a.passed and a.counts]
    return Papers(
        next((a for a in read if a.status == OPEN), None),
        min(counting, key=lambda a: (-(a.score or 0), a.id), default=None),
        of_cycle[-1] if of_cycle else None,
    )


async def attempts(session: AsyncSession, staff_id: int, cycle: int | None = None) -> list[Attempt]:
    """The person's papers, oldest first; of one cycle when given."""
    query = select(QuizAttempt).where(QuizAttempt.staff_id == staff_id)
    if cycle is not None:
        query = query.where(QuizAttempt.cycle == cycle)
    return [_attempt(r) for r in (await session.scalars(query.order_by(QuizAttempt.id))).all()]


async def seen_questions(session: AsyncSession, staff_id: int) -> set[str]:
    papers = (await session.scalars(select(QuizAttempt.paper).where(QuizAttempt.staff_id == staff_id))).all()
    return {item["q"] for paper in papers for item in paper}


async def start(
    session: AsyncSession, staff_id: int, cycle: int, paper: Sequence[DrawnQuestion], now: datetime, deadline: datetime
) -> Attempt:
    row = QuizAttempt(
        staff_id=staff_id,
        cycle=cycle,
        paper=[{"q": d.question_id, "o": list(d.order)} for d in paper],
        status=OPEN,
        started_at=now,
        deadline_at=deadline,
    )
    session.add(row)
    await session.flush()
    return _attempt(row)


async def answers(session: AsyncSession, attempt_id: int) -> list[Answer]:
    rows = (
        await session.scalars(
            select(QuizAnswer).where(QuizAnswer.attempt_id == attempt_id).order_by(QuizAnswer.position)
        )
    ).all()
    return [Answer(r.position, r.question_id, tuple(r.chosen), r.is_correct) for r in rows]


async def answered_count(session: AsyncSession, attempt_id: int) -> int:
    count = await session.scalar(select(func.count()).where(QuizAnswer.attempt_id == attempt_id))
    return int(count or 0)


async def record_answer(
    session: AsyncSession,
    attempt_id: int,
    position: int,
    question_id: str,
    chosen: Collection[int],
    is_correct: bool,
    now: datetime,
) -> bool:
    """False when that question of the paper was answered already: the first answer stands."""
    row = {
        "attempt_id": attempt_id,
        "position": position,
        "question_id": question_id,
        "chosen": sorted(chosen),
        "is_correct": is_correct,
        "answered_at": now,
    }
    return await insert_ignore(session, QuizAnswer, [row], ["attempt_id", "position"]) == 1


async def finish(
    session: AsyncSession, attempt_id: int, now: datetime, pass_mark: int, min_seconds_per_question: float
) -> Attempt:
    """Grades an open paper whose questions are all answered; flags it when it went implausibly fast."""
    row = await session.get(QuizAttempt, attempt_id, with_for_update=True)
    assert row is not None and row.status == OPEN
    correct = sum(a.is_correct for a in await answers(session, attempt_id))
    total = len(row.paper)
    row.status = FINISHED
    row.finished_at = now
    row.correct = correct
    row.score = score_percent(correct, total)
    row.passed = row.score >= pass_mark
    if quizrules.is_too_fast(row.started_at, now, total, min_seconds_per_question):
        row.review = PENDING
    elif row.passed:
        row.certificate_code = new_code()
    await session.flush()
    return _attempt(row)


async def expire(session: AsyncSession, attempt_id: int) -> Attempt | None:
    """Closes an open paper whose time ran out: graded for the record, never passed. None if not open."""
    row = await session.get(QuizAttempt, attempt_id, with_for_update=True)
    if row is None or row.status != OPEN:
        return None
    _close_expired(row, sum(a.is_correct for a in await answers(session, attempt_id)))
    await session.flush()
    return _attempt(row)


async def expire_due(session: AsyncSession, now: datetime) -> list[Attempt]:
    """Every open paper past its deadline, closed (so /status and /team are right without a visit)."""
    rows = (
        await session.scalars(
            select(QuizAttempt).where(QuizAttempt.status == OPEN, QuizAttempt.deadline_at <= now).with_for_update()
        )
    ).all()
    if not rows:
        return []
    counted = await session.execute(
        select(QuizAnswer.attempt_id, func.count())
        .where(QuizAnswer.attempt_id.in_([r.id for r in rows]), QuizAnswer.is_correct.is_(True))
        .group_by(QuizAnswer.attempt_id)
    )
    correct = {attempt_id: int(count) for attempt_id, count in counted.all()}
    for row in rows:
        _close_expired(row, correct.get(row.id, 0))
    await session.flush()
    return [_attempt(r) for r in rows]


def _close_expired(row: QuizAttempt, correct: int) -> None:
    row.status = EXPIRED
    row.finished_at = row.deadline_at
    row.correct = correct
    row.score = score_percent(correct, len(row.paper))
    row.passed = False


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# --- the office -----------------------------------------------------------------------------------------
async def review(
    session: AsyncSession, attempt_id: int, officer_id: int, accept: bool, now: datetime
) -> Attempt | None:
    """Accepts or rejects a flagged paper; None when it is not pending (already reviewed by someone)."""
    result = await session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt_id, QuizAttempt.review == PENDING)
        .values(review=ACCEPTED if accept else REJECTED, reviewed_by=officer_id, reviewed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = await session.get(QuizAttempt, attempt_id, populate_existing=True)
    assert row is not None
    if accept and row.passed:
        row.certificate_code = new_code()
        await session.flush()
    return _attempt(row)


async def pending_reviews(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).where(QuizAttempt.review == PENDING))
    return int(count or 0)


async def best_counting(session: AsyncSession, staff_ids: Collection[int], cycle: int) -> dict[int, Attempt]:
    """Each person's best paper that counts in the cycle (highest score, then earliest)."""
    rows = (
        await session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.staff_id.in_(list(staff_ids)),
                QuizAttempt.cycle == cycle,
                QuizAttempt.status == FINISHED,
                QuizAttempt.passed.is_(True),
            )
            .order_by(QuizAttempt.score.desc(), QuizAttempt.id)
        )
    ).all()
    best: dict[int, Attempt] = {}
    for row in rows:
        attempt = _attempt(row)
        if attempt.counts:
            best.setdefault(attempt.staff_id, attempt)
    return best


async def most_missed(session: AsyncSession, cycle: int, limit: int | None = None) -> list[MissRate]:
    """The questions answered wrongly most often in the cycle (by rate, then by count)."""
    missed = func.sum(case((QuizAnswer.is_correct.is_(False), 1), else_=0))
    answered = func.count()
    rows = (
        await session.execute(
            select(QuizAnswer.question_id, answered, missed)
            .join(QuizAttempt, QuizAttempt.id == QuizAnswer.attempt_id)
            .where(QuizAttempt.cycle == cycle)
            .group_by(QuizAnswer.question_id)
            .having(missed > 0)
        )
    ).all()
    rates = [MissRate(r[0], int(r[1]), int(r[2])) for r in rows]
    rates.sort(key=lambda m: (-m.missed / m.answered, -m.missed, m.question_id))
    return rates if limit is None else rates[:limit]


async def certificate(session: AsyncSession, code: str) -> Certificate | None:
    row = (
        await session.execute(
            select(QuizAttempt, Staff.employee_id, Staff.name, Department.name)
            .join(Staff, Staff.id == QuizAttempt.staff_id)
            .join(Department, Department.id == Staff.department_id)
            .where(QuizAttempt.certificate_code == code.strip().upper())
        )
    ).first()
    if row is None:
        return None
    attempt = _attempt(row[0])
    if not attempt.counts or attempt.finished_at is None or attempt.score is None:
        return None
    assert attempt.certificate_code is not None
    code, finished_at, score = attempt.certificate_code, attempt.finished_at, attempt.score
    return Certificate(code, row[1], row[2], row[3], attempt.cycle, finished_at, score)


async def papers_of(session: AsyncSession, cycle: int) -> int:
    """How many papers were handed in in the cycle."""
    return int(await session.scalar(select(func.count()).where(QuizAttempt.cycle == cycle)) or 0)


async def export_rows(session: AsyncSession, cycle: int) -> list[ExportRow]:
    """Every paper of the cycle with who took it, by department, person and time."""
    rows = (
        await session.execute(
            select(QuizAttempt, Staff.employee_id, Staff.name, Department.name)
            .join(Staff, Staff.id == QuizAttempt.staff_id)
            .join(Department, Department.id == Staff.department_id)
            .where(QuizAttempt.cycle == cycle)
            .order_by(Department.name, Staff.employee_id, QuizAttempt.id)
        )
    ).all()
    return [ExportRow(r[1], r[2], r[3], _attempt(r[0])) for r in rows]
