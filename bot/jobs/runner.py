"""Runs every sweep, each in its own transaction: every minute while the bot runs, and from `baomi jobs run --at`
with a given instant (the same code). One loop for every deployment: a WeCom-only bot has no python-telegram-bot
Application (whose JobQueue this was), and a loop of our own can be paused and resumed as a whole."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.clock import Clock
from bot.config import Policy
from bot.core.digest import combine_planned, combine_reminders
from bot.core.outbox_rows import OUTBOX
from bot.core.supervise import Pulse, is_outage
from bot.core.sweep import Sweep, SweepContext
from bot.db.models import OutboxMessage, Staff
from bot.db.session import QUEUED, Database, NotLeader, flush_queued
from bot.domain.workdays import WorkCalendar
from bot.services.calendar import work_calendar
from bot.texts import Texts

log = logging.getLogger("baomi.jobs")


@dataclass(frozen=True)
class Planned:
    """One message a sweep would send on a day."""

    day: date
    duty: str
    staff_id: int
    name: str
    text: str


TICK = timedelta(minutes=1)
# The chunked sweeps' transactions: each aims to hold the write lock for HOLD seconds, over as many staff ids as the
# one before managed in that time (at most four times as many), and at least CHUNK, the first chunk's size: a head's
# list reads their whole department, and a chunk of a roster that lists its heads first reads a department per
# id. A quiet tick grows to everyone in a few more chunks.
CHUNK = 10
HOLD = 0.1
MAX_ID = 2**63 - 1


class SweepRunner:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: Policy,
        texts: Texts,
        timezone: ZoneInfo,
        sweeps: Sequence[Sweep],
        on_outbox: Callable[[], None],
        combine: bool = True,
        chunk: int = CHUNK,
        hold: float = HOLD,
    ) -> None:
        """`combine`: each chat's reminders of one run go out as one 今日待办 (bot/core/digest.py); off only to
        look at each duty's schedule on its own. `chunk`: the first and the fewest staff ids in a transaction of the
        chunked sweeps; `hold`: the seconds each of them aims at (0: always `chunk`)."""
        self.db = db
        self.clock = clock
        self.policy = policy
        self.texts = texts
        self.timezone = timezone
        self.sweeps = list(sweeps)
        self.on_outbox = on_outbox
        self.combine = combine
        self.chunk = chunk
        self.hold = hold

    async def calendar(self) -> WorkCalendar:
        async with self.db.sessions() as session:
            return await work_calendar(session)

    async def run_all(self, now: datetime | None = None, sweeps: Sequence[Sweep] | None = None) -> dict[str, int]:
        """Every sweep (or those given) once at `now` (default: the clock). A failing sweep is logged and the
        others run.

        The sweeps that are not `chunked` run first, each in its own transaction; then the chunked ones, chunk by
        chunk of people, all of them in one transaction per chunk that ends by combining the chunk's people's
        reminders of this run (any sweep's) into their 今日待办. Every transaction of the sweeps is background work:
        on SQLite the engine's and the dispatcher's go first, between chunks. A crash between chunks leaves the later
        chunks to the next tick, whose claims skip whoever was done."""
        now = now or self.clock.now()
        started = time.monotonic()
        calendar = await self.calendar()
        chosen = self.sweeps if sweeps is None else sweeps
        floor = await self.last_outbox_id()
        done: dict[str, int] = {}
        chunks: list[float] = []  # how long each chunk of the chunked sweeps held the database
        for sweep in chosen:
            if sweep.chunked:
                continue
            try:
                async with self.db.transaction(fenced=True, background=True) as session:
                    ctx = SweepContext(session, now, self.policy, self.texts, self.timezone, calendar)
                    done[sweep.name] = await sweep.run(ctx)
            except Exception as exc:
                done[sweep.name] = failed(sweep, exc)
        chunked = [sweep for sweep in chosen if sweep.chunked]
        earlier = [(floor + 1, await self.last_outbox_id())] if any(count > 0 for count in done.values()) else []
        if chunked:
            done.update(await self._chunks(now, calendar, chunked, earlier, chunks))
        elif self.combine and earlier:
            # One 今日待办 per chat instead of a message per reminder.
            async with self.db.transaction(background=True) as session:
                await combine_reminders(session, now, self.texts, lock=not self.db.is_sqlite, ids=earlier)
        if any(count > 0 for count in done.values()):
            acted = ", ".join(f"{k}={v}" for k, v in done.items() if v)
            spans = f" ({len(chunks)} chunks, longest {max(chunks):.2f} s)" if chunks else ""
            log.info("sweeps in %.1f s%s: %s", time.monotonic() - started, spans, acted)
            self.on_outbox()
        return done

    async def last_outbox_id(self) -> int:
        async with self.db.sessions() as session:
            return int(await session.scalar(select(func.max(OutboxMessage.id))) or 0)

    async def _chunks(
        self,
        now: datetime,
        calendar: WorkCalendar,
        sweeps: list[Sweep],
        earlier: list[tuple[int, int]],
        held: list[float],
    ) -> dict[str, int]:
        """The chunked sweeps, at least `self.chunk` staff ids at a time. `earlier`: the outbox ids of what the sweeps
        before them queued in this run, which each chunk combines with its own; `held` gets each chunk's seconds."""
        done = dict.fromkeys((sweep.name for sweep in sweeps), 0)
        async with self.db.sessions() as session:
            first, last = (await session.execute(select(func.min(Staff.id), func.max(Staff.id)))).one()
        if first is None:
            return done
        low, width = first, self.chunk
        while low <= last:
            people = (low, min(low + width - 1, last))
            async with self.db.transaction(fenced=True, background=True) as session:
                began = time.monotonic()
                mine = (int(await session.scalar(select(func.max(OutboxMessage.id))) or 0) + 1, MAX_ID)
                acted = False
                for sweep in sweeps:
                    if done[sweep.name] < 0:
                        continue  # failed in an earlier chunk of this run
                    ctx = SweepContext(
                        session, now, self.policy, self.texts, self.timezone, calendar, people, people[1] == last
                    )
                    try:
                        async with session.begin_nested():
                            count = await sweep.run(ctx)
                            await flush_queued(session)  # rolled back with the savepoint if the sweep fails
                    except Exception as exc:
                        session.info.pop(QUEUED, None)
                        done[sweep.name] = failed(sweep, exc)
                        continue
                    done[sweep.name] += count
                    acted = acted or count > 0
                if self.combine and (acted or earlier):
                    lock = not self.db.is_sqlite
                    await combine_reminders(session, now, self.texts, lock=lock, people=people, ids=[*earlier, mine])
            held.append(max(time.monotonic() - began, 0.001))
            low, width = people[1] + 1, max(self.chunk, min(width * 4, int(width * self.hold / held[-1])))
        return done

    async def preview(self, start: date, end: date) -> list[Planned]:
        """What the sweeps would queue, day by day from `start` to `end` at the start of working hours, without
        sending or keeping anything: every day runs in a savepoint of one transaction that is rolled back."""
        calendar = await self.calendar()
        planned: list[Planned] = []
        async with self.db.sessions() as session, session.begin():
            found = (await session.execute(select(Staff.id, Staff.name, Staff.locale))).all()
            names = {staff_id: name for staff_id, name, _ in found}
            locales = {staff_id: locale for staff_id, _, locale in found}
            day = start
            while day <= end:
                at = datetime.combine(day, self.policy.working_hours_start, self.timezone)
                queued: list[tuple[str, dict[str, Any]]] = []
                for sweep in self.sweeps:
                    async with session.begin_nested():
                        ctx = SweepContext(
                            session, at.astimezone(UTC), self.policy, self.texts, self.timezone, calendar
                        )
                        await sweep.run(ctx)
                        queued += [(sweep.name, row) for row in session.info.pop(QUEUED, {}).get(OUTBOX, [])]
                if self.combine:
                    queued = combine_planned(self.texts, locales, queued)
                planned += [
                    Planned(day, duty, row["staff_id"], names.get(row["staff_id"], ""), row["payload"]["text"])
                    for duty, row in queued
                ]
                day += timedelta(days=1)
            await session.rollback()
        return planned

    async def follow(self, sources: frozenset[str]) -> None:
        """Outbox rows of these sources were just recorded: run now, not at the next tick, the sweeps that
        follow them (a sweep's `follows`)."""
        wanted = [
            sweep
            for sweep in self.sweeps
            if any(source.startswith(prefix) for prefix in sweep.follows for source in sources)
        ]
        if wanted:
            await self.run_all(sweeps=wanted)

    async def run(self, stop: asyncio.Event, pulse: Pulse) -> None:
        """Every TICK until `stop` is set: the scheduler of `baomi run` and `baomi serve`. A database outage ends the
        run; the supervisor runs it again, and it beats once the database answers."""
        await self.calendar()
        pulse.beat()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=TICK.total_seconds())
            if stop.is_set():
                return
            await self.run_all()
            pulse.beat()


def failed(sweep: Sweep, exc: Exception) -> int:
    """A sweep's exception: re-raised when the database is out or another instance leads (the next tick or the
    new leader runs them all again; each claims what it did), otherwise logged; -1, its count for the run."""
    if isinstance(exc, NotLeader) or is_outage(exc):
        raise exc
    log.exception("sweep %s failed: %s", sweep.name, type(exc).__name__, exc_info=exc)
    return -1
