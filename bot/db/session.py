"""Engine and session factory. The edge (one inbound event, one job run, one CLI command) owns each
transaction; code below it takes a session and never commits."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import sqlalchemy.exc
from sqlalchemy import Table, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from bot.config import ConfigError
from bot.db import inline

T = TypeVar("T")


class NotLeader(Exception):
    """A leader's transaction found that another instance has taken over since (bot/leadership.py)."""


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30, "async_creator_fn": inline.connect}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        event.listen(self.engine.sync_engine, "do_connect", _connect)
        readers = writers = inline_writers = self.engine
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            # SQLite's BEGIN is ours to emit (_sqlite_connect). Units of work take the write lock up front (BEGIN
            # IMMEDIATE): a deferred transaction that read first could not upgrade once another process had written,
            # and would fail instead of waiting. The listener is on the two engines that need it, not on the one they
            # share: a "begin" listener makes SQLAlchemy dispatch its events at every statement of the engine's
            # connections (7 of the 52 µs a short statement took), and the units of work of short statements (the
            # engine's batch, the dispatcher's step) begin their own transaction instead (`_begin_inline`).
            readers = self.engine.execution_options(sqlite_begin="BEGIN")
            writers = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            for engine in (readers, writers):
                event.listen(engine.sync_engine, "begin", _sqlite_begin)
            inline_writers = self.engine.execution_options(sqlite_inline=True)
        self.sessions = async_sessionmaker(readers, expire_on_commit=False)
        self._writer_sessions = async_sessionmaker(writers, expire_on_commit=False)
        self._inline_sessions = async_sessionmaker(inline_writers, expire_on_commit=False)
        # SQLite has one writer. Writers of this process queue here instead of meeting SQLITE_BUSY, whose
        # busy handler sleeps in steps of up to 100 ms.
        self._write_lock = WriteLock() if self.is_sqlite else None
        # The leadership term this process holds or held last (PostgreSQL with bot/leadership.py); None: no fence.
        self.epoch: int | None = None

    @asynccontextmanager
    async def transaction(
        self, fenced: bool = False, inline: bool = False, background: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception. Rows queued with
        `queue_insert` are written just before the commit, one statement per table.

        `fenced`: the leader's work (the engine, the dispatcher, the sweeps). It first reads the leadership term
        with a share lock, and raises NotLeader if it is no longer this process's: a new leader's count-up waits
        for the transactions under way, and every one after it sees the new term.

        `inline`: a unit of work of short statements (the engine's batch, intake, the dispatcher's step), whose
        statements SQLite runs on the event loop's thread once the transaction has begun (bot/db/inline.py).

        `background`: work nobody is waiting for (the scheduled sweeps); on SQLite it lets the others' writes go
        first (WriteLock)."""
        if self._write_lock is None:
            async with self.sessions() as session, session.begin():
                if fenced and self.epoch is not None:
                    current = await session.scalar(text("SELECT epoch FROM leadership WHERE id = 1 FOR SHARE"))
                    if current != self.epoch:
                        raise NotLeader(f"leadership term {current} is not ours ({self.epoch})")
                yield session
                await flush_queued(session)
            return
        sessions = self._inline_sessions if inline else self._writer_sessions
        async with self._write_lock.held(background), sessions() as session, session.begin():
            if inline:
                await _begin_inline(session)
            yield session
            await flush_queued(session)

    async def check(self) -> None:
        """Fail with one clear line when the database cannot be reached."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError) as exc:
            raise ConfigError(
                f"cannot reach the database at {redact(self.url)}: {first_line(exc)} "
                "(set BAOMI_DATABASE_URL, e.g. postgresql+asyncpg://user@host:5432/baomi)"
            ) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


class WriteLock:
    """SQLite's write lock within this process: writers take it in the order they asked, except background work,
    which takes it only once it is free with no other writer asking, and a moment (LULL) after another writer's
    release: what a write sets off (the engine's step after an update is stored, the dispatcher's claim after the
    step) then also goes first, and a person waits for at most one background transaction. After PATIENCE it queues
    like the others, so that it is never starved."""

    LULL = 0.01
    PATIENCE = 1.0

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._asking = 0  # writers other than background ones waiting for the lock or holding it
        self._released = asyncio.Event()  # set whenever the lock is released
        self._released_at = 0.0  # when a writer other than a background one last released it

    @asynccontextmanager
    async def held(self, background: bool = False) -> AsyncIterator[None]:
        if background:
            await self._lull()
        else:
            self._asking += 1
        try:
            async with self._lock:
                yield
        finally:
            if not background:
                self._asking -= 1
                self._released_at = time.monotonic()  # what this write sets off asks within the lull
            self._released.set()

    async def _lull(self) -> None:
        """Until the lock is free with no other writer asking, LULL seconds after another writer's release, or
        PATIENCE seconds passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.PATIENCE):
                while True:
                    if self._asking or self._lock.locked():
                        self._released.clear()
                        await self._released.wait()
                    elif (rest := self._released_at + self.LULL - time.monotonic()) > 0:
                        await asyncio.sleep(rest)
                    else:
                        return


class DatabaseUnreachable(ConnectionError):
    """A connection to the database could not be made (the driver's own error is its cause)."""


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` itself says the database could not be reached or dropped the connection, which passes, as
    opposed to refusing a statement (a bug or bad data, which retrying does not change)."""
    if isinstance(exc, DatabaseUnreachable | OperationalError | sqlalchemy.exc.TimeoutError):
        return True  # SQLite's "database is locked" too; the pool's timeout waiting for a connection
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # PostgreSQL's classes 08 (connection exception), 53 (insufficient resources: too many connections, disk full)
    # and 57 (operator intervention: shutting down, starting up), as asyncpg reports them.
    return str(getattr(exc, "sqlstate", "") or "")[:2] in {"08", "53", "57"}


def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    # The driver raises plain OSError (refused, reset, unreachable) or TimeoutError when it cannot connect, which
    # says nothing of what it was connecting to: say it.
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as exc:
        raise DatabaseUnreachable(f"{type(exc).__name__}: {first_line(exc)}") from exc


def queue_insert(session: AsyncSession, table: Table, row: dict[str, Any]) -> None:
    """Insert `row` when the unit of work commits. Many small rows (replies, reminders) then cost one
    executemany instead of an ORM flush each; nothing in the same transaction reads them back."""
    session.info.setdefault(QUEUED, {}).setdefault(table, []).append(row)


async def flush_queued(session: AsyncSession) -> None:
    queued: dict[Table, list[dict[str, Any]]] = session.info.pop(QUEUED, {})
    for table, rows in queued.items():
        await session.execute(table.insert(), rows)


QUEUED = "baomi.queued_inserts"


async def read_once(session: AsyncSession, key: str, load: Callable[[], Awaitable[T]]) -> T:
    """`load()`, read once per transaction: what every event of the engine's batch reads alike (the working-day
    calendar) is read once for the batch. Whoever writes what it reads calls `forget` in the same transaction."""
    memo: dict[str, Any] = session.info.setdefault(READ_ONCE, {})
    if key not in memo:
        memo[key] = await load()
    return cast(T, memo[key])


def forget(session: AsyncSession, key: str) -> None:
    session.info.get(READ_ONCE, {}).pop(key, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_ended(session: Session) -> None:
    session.info.pop(READ_ONCE, None)  # another transaction may see other rows


READ_ONCE = "baomi.read_once"


BUSY_TIMEOUT_MS = 30_000  # how long a statement waits for another process's write lock


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # The driver's own transaction handling would start transactions late and let a SAVEPOINT commit on
    # release; SQLAlchemy's recipe: switch it off and emit BEGIN ourselves (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # What is deleted or emptied (processed inbox rows, old payloads) is overwritten, not left in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql(conn.get_execution_options()["sqlite_begin"])


async def _begin_inline(session: AsyncSession) -> None:
    """BEGIN IMMEDIATE of a unit of work whose statements run inline (bot/db/inline.py): the write lock is taken on
    the event loop's thread when it is free, on aiosqlite's thread when it has to be waited for; once held, nothing
    waits."""
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    if not (isinstance(driver, inline.InlineConnection) and driver.begin_at_once(BUSY_TIMEOUT_MS)):
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    inline.set_inline(driver)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0]
