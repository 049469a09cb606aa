"""Leader election: of the instances sharing one PostgreSQL database, one leads — it runs the engine, the dispatcher,
the sweeps and Telegram's long poll — and the others stand by; every instance takes callbacks and webhook updates
into the inbox and answers /healthz.

The leader is whoever holds a session-level advisory lock (bot/db/locks.py) on a connection of its own. PostgreSQL
releases the lock when that session ends — the process died, or its connection broke — and a standby, trying every
LEAD_CHECK seconds, takes it within seconds. The leader checks its connection as often and steps down at once when it
fails.

A new leader counts the term up (table `leadership`) before it does anything. Its transactions are fenced
(Database.transaction(fenced=True)): one that finds another term raises NotLeader, so a leader cut off from the
database but still running cannot commit anything after its successor has taken over. The rows it had in flight
are recovered by the successor only after the longest HTTP call could have ended (bot/outbox.py).

On SQLite (one machine, one process) the process leads from the start and nothing of this runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import update
from sqlalchemy.engine import make_url

from bot.clock import Clock
from bot.core.supervise import Pulse
from bot.db import locks
from bot.db.models import Leadership as Term
from bot.db.session import Database, DatabaseUnreachable
from bot.db.upsert import insert_ignore

log = logging.getLogger("baomi.leadership")

LEAD_CHECK = 1.0  # seconds between a standby's tries of the lock, and between the leader's checks of its connection

LEADER = "leader"
STANDBY = "standby"

Lead = Callable[[asyncio.Event], Awaitable[None]]


class Leadership:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.role = STANDBY
        self.settled = asyncio.Event()  # set once this instance knows whether it leads (and then its loops run)
        self.holder = f"{socket.gethostname()}:{os.getpid()}"[:100]

    async def run(self, stop: asyncio.Event, pulse: Pulse, lead: Lead) -> None:
        """Stand by until this instance holds the lock, then `lead(resign)` until `stop` is set or the lock's
        connection fails (`resign` is set then, and `lead` returns once its loops have ended); then stand by
        again. `lead` sets `settled` once its loops run. The database out of reach ends the run as an outage (the
        supervisor runs it again); what `lead` raises ends it too."""
        if self.db.is_sqlite:
            self.role = LEADER
            await lead(stop)
            return
        while not stop.is_set():
            connection = await _connect(self.db.url)
            try:
                if await self._elected(connection, stop, pulse):
                    await self._lead(connection, stop, pulse, lead)
            finally:
                self.role = STANDBY
                self.settled.set()
                connection.terminate()  # a session that ends releases the lock, even if the server is unreachable

    async def _elected(self, connection: asyncpg.Connection, stop: asyncio.Event, pulse: Pulse) -> bool:
        while not stop.is_set():
            try:
                async with asyncio.timeout(LEAD_CHECK * 5):
                    if await connection.fetchval("SELECT pg_try_advisory_lock($1)", locks.LEADER):
                        return True
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc
            self.settled.set()
            pulse.beat()
            await _wait(stop, LEAD_CHECK)
        return False

    async def _lead(self, connection: asyncpg.Connection, stop: asyncio.Event, pulse: Pulse, lead: Lead) -> None:
        # The count-up waits for the fenced transactions of the previous term still under way.
        async with self.db.transaction() as session:
            await insert_ignore(session, Term, [{"id": 1, "epoch": 0}], ["id"])  # the first leader of a database
            epoch = await session.scalar(
                update(Term)
                .where(Term.id == 1)
                .values(epoch=Term.epoch + 1, holder=self.holder, since=self.clock.now())
                .returning(Term.epoch)
            )
        assert epoch is not None
        self.db.epoch = epoch
        self.role = LEADER
        log.info("leading (term %s)", epoch)
        resign = asyncio.Event()
        watch = asyncio.create_task(self._hold(connection, stop, pulse, resign), name="leadership-check")
        try:
            await lead(resign)
        finally:
            resign.set()
            await watch  # not cancelled in the middle of a query: asyncpg would open a connection to cancel it
        if not stop.is_set():
            log.error("stepped down (term %s): the leadership connection failed", epoch)
            await _wait(stop, LEAD_CHECK)  # then stand again (the connection's failure may be the database's)

    async def _hold(
        self, connection: asyncpg.Connection, stop: asyncio.Event, pulse: Pulse, resign: asyncio.Event
    ) -> None:
        """Set `resign` when `stop` is set, the leader's loops stop, or the lock's connection stops answering."""
        try:
            while not stop.is_set() and not resign.is_set():
                await _wait_either(stop, resign, LEAD_CHECK)
                if stop.is_set() or resign.is_set():
                    break
                async with asyncio.timeout(LEAD_CHECK * 3):
                    await connection.fetchval("SELECT 1")
                pulse.beat()
        except Exception as exc:  # whatever went wrong, this instance can no longer show that it leads
            log.error("leadership connection failed (%s): stepping down", type(exc).__name__)
        finally:
            resign.set()


async def _connect(url: str) -> asyncpg.Connection:
    """A connection of its own for the lock (not the pool's: the lock lives exactly as long as this session)."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return await asyncpg.connect(dsn, timeout=LEAD_CHECK * 5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _wait_either(first: asyncio.Event, second: asyncio.Event, seconds: float) -> None:
    waiters = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())}
    await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
