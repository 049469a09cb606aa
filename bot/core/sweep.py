"""Scheduled duties as sweeps: each asks the database what is due at `now` for one duty, claims each item in
the sent-log (insert-or-ignore), and queues its messages in the same transaction. No job per person.

A sweep that asks everyone (the renewals, the October self-check) is `chunked`: the runner runs it once per chunk
of people (`ctx.people`, a range of staff ids), each chunk in its own short transaction, so that the write lock is
released between chunks and a person's /status gets in. Such a sweep passes `ctx.people` to its per-person
queries, also those of its once-a-run parts (a head's list for the chunk's heads only): every message to
a person is then claimed and queued in that person's chunk, and a crash between chunks leaves the later chunks to
the next tick. What marks the whole run done (a daily scan's claim) is claimed in the last chunk (`ctx.last`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.core.outbox_rows import IN_CHUNK
from bot.db.models import SentLog
from bot.db.upsert import insert_ignore, insert_ignore_returning
from bot.domain.workdays import WorkCalendar, WorkingHours, is_sendable
from bot.texts import Texts


@dataclass
class SweepContext:
    session: AsyncSession
    now: datetime  # UTC
    policy: Policy
    texts: Texts
    timezone: ZoneInfo
    calendar: WorkCalendar
    people: tuple[int, int] | None = None  # a chunked sweep's chunk: staff ids first..last; None: everyone
    last: bool = True  # the run's last chunk (or everyone)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.timezone)

    @property
    def routine_allowed(self) -> bool:
        """Routine reminders go out only in working hours on working days (leak alerts ignore this)."""
        hours = WorkingHours(self.policy.working_hours_start, self.policy.working_hours_end)
        return is_sendable(self.local_now, self.calendar, hours)

    def has(self, staff_id: int) -> bool:
        """Whether this person is in this chunk."""
        return self.people is None or self.people[0] <= staff_id <= self.people[1]

    async def claim(self, duty: str, subject: str, period: str, step: str) -> bool:
        """True the first time (duty, subject, period, step) is claimed, ever; False afterwards."""
        inserted = await insert_ignore(
            self.session,
            SentLog,
            [{"duty": duty, "subject": subject, "period": period, "step": step, "created_at": self.now}],
            ["duty", "subject", "period", "step"],
        )
        return inserted == 1

    async def claimed(self, duty: str, subject: str, period: str, step: str) -> bool:
        """Whether (duty, subject, period, step) was claimed before."""
        found = await self.session.scalar(
            select(SentLog.id).where(
                SentLog.duty == duty, SentLog.subject == subject, SentLog.period == period, SentLog.step == step
            )
        )
        return found is not None

    async def claim_many(self, duty: str, period: str, step: str, subjects: list[str]) -> set[str]:
        """The subjects claimed now for the first time. Those of them claimed before are read first (not the step's
        every claim: a chunk of the sweeps would read every chunk's before it), so that only what is new is
        inserted."""
        earlier: set[str] = set()
        for start in range(0, len(subjects), IN_CHUNK):
            earlier.update(
                await self.session.scalars(
                    select(SentLog.subject).where(
                        SentLog.duty == duty,
                        SentLog.period == period,
                        SentLog.step == step,
                        SentLog.subject.in_(subjects[start : start + IN_CHUNK]),
                    )
                )
            )
        rows = [
            {"duty": duty, "subject": subject, "period": period, "step": step, "created_at": self.now}
            for subject in subjects
            if subject not in earlier
        ]
        claimed = await insert_ignore_returning(
            self.session, SentLog, rows, ["duty", "subject", "period", "step"], "subject"
        )
        return set(claimed)


class Sweep(Protocol):
    """A scheduled duty. A sweep subclasses this explicitly (to inherit `follows`)."""

    name: str
    # Sources of outbox rows (prefixes, e.g. "broadcast:") whose delivery runs this sweep at once rather than at the
    # next tick: a broadcast's progress bar follows its rows.
    follows: tuple[str, ...] = ()
    # Run chunk by chunk of people (ctx.people), after the sweeps that are not; see the module's docstring.
    chunked: bool = False

    async def run(self, ctx: SweepContext) -> int:
        """Do what is due at ctx.now; returns how many items it acted on."""
        ...
