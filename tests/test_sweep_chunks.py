"""The sweeps that ask everyone (renewals, the October self-check) run chunk by chunk of people, a transaction
each: over more people than a chunk everyone is told exactly once, in one 今日待办; a crash between chunks loses
and doubles nobody on the next tick."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import func, select

from bot.app import wire
from bot.clock import SettableClock
from bot.config import Policy
from bot.core.sweep import Sweep, SweepContext
from bot.db.models import SentLog
from bot.db.session import Database, DatabaseUnreachable
from bot.jobs.runner import SweepRunner
from bot.texts import Texts
from tests.conftest import TZ
from tests.test_duties_sweeps import DUTIES, at, last_id, messages_since, seed

BUSIEST = date(2026, 10, 8)  # the self-check asks everyone classified; the week's renewal reminder goes to everyone
CHUNK = 3  # staff ids per chunk (not grown: hold=0): the example roster's 12 people make four chunks


class Crash(Sweep):
    """Chunked, first in each chunk: the database goes away when the chunk of `staff_id` is reached, once."""

    name = "crash"
    chunked = True

    def __init__(self, staff_id: int) -> None:
        self.staff_id = staff_id
        self.crashed = False

    async def run(self, ctx: SweepContext) -> int:
        if not self.crashed and ctx.has(self.staff_id):
            self.crashed = True
            raise DatabaseUnreachable("the database went away")
        return 0


def runner(
    db: Database, clock: SettableClock, *extra: Sweep, names: tuple[str, ...] = (*DUTIES, "renewals")
) -> SweepRunner:
    sweeps = [*extra, *(s for s in wire().sweeps if s.name in names)]
    return SweepRunner(db, clock, Policy(), Texts(TZ), TZ, sweeps, on_outbox=lambda: None, chunk=CHUNK, hold=0)


async def test_everyone_is_told_once_in_one_todays_to_dos_over_many_chunks(db: Database, clock: SettableClock) -> None:
    ids = await seed(db, clock)
    assert len(ids) > 2 * CHUNK
    jobs = runner(db, clock)
    planned = await jobs.preview(BUSIEST, BUSIEST)  # one chunk of everyone, rolled back
    before = await last_id(db)
    clock.set(at(BUSIEST, 9))
    done = await jobs.run_all()
    assert done["renewals"] > CHUNK and done["selfcheck"] > CHUNK
    sent = await messages_since(db, before)
    per_person = Counter(staff for staff, _, _ in sent)
    assert set(per_person) == set(ids.values())  # nobody missed
    assert set(per_person.values()) == {1}  # nobody twice: each person's reminders of the run are one message
    head = [text for staff, _, text in sent if staff == ids["E101"]]
    assert head == [Texts(TZ).render("core/today", "zh", items=["x"] * 5, count=5).splitlines()[0]]
    # The same as one chunk of everyone.
    assert sorted((p.staff_id, p.text.splitlines()[0]) for p in planned) == sorted((s, t) for s, _, t in sent)
    # Later ticks of the day: nothing again; the daily scan was claimed with the last chunk.
    async with db.sessions() as s:
        scans = await s.scalar(select(func.count()).where(SentLog.step == f"scan-{BUSIEST.isoformat()}"))
    assert scans == 1
    clock.advance(minutes=1)
    assert sum(v for v in (await runner(db, clock).run_all()).values()) == 0
    assert await messages_since(db, before) == sent


async def test_a_crash_between_chunks_loses_and_doubles_nobody_on_the_next_tick(
    db: Database, clock: SettableClock
) -> None:
    ids = await seed(db, clock)
    middle = sorted(ids.values())[len(ids) // 2]
    before = await last_id(db)
    clock.set(at(BUSIEST, 9))
    crash = Crash(middle)
    # Only the chunked sweeps: the others' reminders are written before the chunks, so a head in a chunk left to the
    # next tick would hear of them in a message of their own.
    chunked = ("selfcheck", "renewals")
    try:
        await runner(db, clock, crash, names=chunked).run_all()
    except DatabaseUnreachable:
        pass
    assert crash.crashed
    first = Counter(staff for staff, _, _ in await messages_since(db, before))
    assert first and min(first) < middle and max(first) < middle  # the chunks before the crash are kept
    clock.advance(minutes=1)
    await runner(db, clock, crash, names=chunked).run_all()  # the next tick (after a restart: a new runner)
    sent = await messages_since(db, before)
    per_person = Counter(staff for staff, _, _ in sent)
    assert set(per_person) == set(ids.values()) and set(per_person.values()) == {1}
    # The head in a later chunk still hears of renewals, their team's list and the self-check in one message.
    later_head = [text for staff, _, text in sent if staff == ids["E201"]]
    assert ids["E201"] >= middle
    assert later_head == [Texts(TZ).render("core/today", "zh", items=["x"] * 4, count=4).splitlines()[0]]


async def test_a_failing_sweep_in_a_chunk_leaves_the_others(db: Database, clock: SettableClock) -> None:
    ids = await seed(db, clock)

    class Broken(Sweep):
        name = "broken"
        chunked = True

        async def run(self, ctx: SweepContext) -> int:
            await ctx.claim("broken", "x", "y", "z")
            raise ValueError("a bug")

    before = await last_id(db)
    clock.set(at(BUSIEST, 9))
    done = await runner(db, clock, Broken()).run_all()
    assert done["broken"] == -1 and done["selfcheck"] > 0
    per_person = Counter(staff for staff, _, _ in await messages_since(db, before))
    assert set(per_person) == set(ids.values()) and set(per_person.values()) == {1}
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).where(SentLog.duty == "broken")) == 0  # its savepoint rolled back
