"""Runs every sweep, each in its own transaction: every minute while the bot runs, and from `baomi jobs run --at`
with a given instant (the same code). One loop for every deployment: a WeCom-only bot has no python-telegram-bot
Application (whose JobQueue this was), and a loop of our own can be paused and resumed as a whole."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import Clock
from bot.config import Policy
from bot.core.digest import combine_planned, combine_reminders
from bot.core.outbox_rows import OUTBOX
from bot.core.supervise import Pulse, is_outage
from bot.core.sweep import Sweep, SweepContext
from bot.db.models import Staff
from bot.db.session import QUEUED, Database, NotLeader
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
    ) -> None:
        """`combine`: each chat's reminders of one run go out as one 今日待办 (bot/core/digest.py); off only to
        look at each duty's schedule on its own."""
        self.db = db
        self.clock = clock
        self.policy = policy
        self.texts = texts
        self.timezone = timezone
        self.sweeps = list(sweeps)
        self.on_outbox = on_outbox
        self.combine = combine

    async def calendar(self) -> WorkCalendar:
        async with self.db.sessions() as session:
            return await work_calendar(session)

    async def run_all(self, now: datetime | None = None, sweeps: Sequence[Sweep] | None = None) -> dict[str, int]:
        """Every sweep (or those given) once at `now` (default: the clock). A failing sweep is logged and the
        others run."""
        now = now or self.clock.now()
        calendar = await self.calendar()
        done: dict[str, int] = {}
        for sweep in self.sweeps if sweeps is None else sweeps:
            try:
                async with self.db.transaction(fenced=True) as session:
                    ctx = SweepContext(session, now, self.policy, self.texts, self.timezone, calendar)
                    done[sweep.name] = await sweep.run(ctx)
            except NotLeader:
                raise  # another instance leads now and runs the sweeps
            except Exception as exc:
                if is_outage(exc):
                    raise  # the next tick runs them all again; each claims what it did
                log.exception("sweep %s failed: %s", sweep.name, type(exc).__name__)
                done[sweep.name] = -1
        if self.combine and any(count > 0 for count in done.values()):
            # One 今日待办 per chat instead of a message per reminder.
            async with self.db.transaction() as session:
                await combine_reminders(session, now, self.texts, lock=not self.db.is_sqlite)
        if any(count > 0 for count in done.values()):
            log.info("sweeps: %s", ", ".join(f"{k}={v}" for k, v in done.items() if v))
            self.on_outbox()
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
