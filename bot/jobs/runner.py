"""Runs every sweep, each in its own transaction: from python-telegram-bot's JobQueue every minute, and from
`baomi jobs run --at` with a given instant (the same code)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import Clock
from bot.config import Policy
from bot.db.models import CalendarOverride
from bot.db.session import Database
from bot.domain.workdays import WorkCalendar
from bot.jobs.base import Sweep, SweepContext
from bot.texts import Texts

log = logging.getLogger("baomi.jobs")
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
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.texts = texts
        self.timezone = timezone
        self.sweeps = list(sweeps)
        self.on_outbox = on_outbox

    async def calendar(self) -> WorkCalendar:
        async with self.db.sessions() as session:
            rows = (await session.execute(select(CalendarOverride.day, CalendarOverride.is_working))).all()
        return WorkCalendar({day: working for day, working in rows})

    async def run_all(self, now: datetime | None = None) -> dict[str, int]:
        """Every sweep once at `now` (default: the clock). A failing sweep is logged and the others run."""
        now = now or self.clock.now()
        calendar = await self.calendar()
        done: dict[str, int] = {}
        for sweep in self.sweeps:
            try:
                async with self.db.transaction() as session:
                    ctx = SweepContext(session, now, self.policy, self.texts, self.timezone, calendar)
                    done[sweep.name] = await sweep.run(ctx)
            except Exception as exc:
                log.exception("sweep %s failed: %s", sweep.name, type(exc).__name__)
                done[sweep.name] = -1
        if any(count > 0 for count in done.values()):
            log.info("sweeps: %s", ", ".join(f"{k}={v}" for k, v in done.items() if v))
            self.on_outbox()
        return done

    async def tick(self, _context: Any) -> None:
        """The JobQueue callback."""
        await self.run_all()
