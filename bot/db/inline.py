"""SQLite's short statements without the thread hop.

aiosqlite runs every call on a thread of its own: a statement crosses to it and back about four times (cursor,
execute, fetch, close), each a queue put, a wake-up of the thread and a call back into the event loop, which cost
more CPU than the statement itself. `InlineConnection` runs the calls on the calling thread (the event loop's)
while `inline` is set, and on aiosqlite's thread otherwise: the same calls on the same sqlite3 connection, one
at a time either way (each is awaited before the next), so every statement behaves alike on both paths.

Database.transaction(inline=True) sets it once the write transaction has begun (BEGIN IMMEDIATE, which may wait
for another process's writer, stays on the thread); the COMMIT that ends the transaction runs inline too and clears
it. Inside the write transaction nothing waits for a lock, and in WAL mode with synchronous=NORMAL a commit only
appends to the log, so a statement blocks the event loop for its own work only: units of work of short statements
(the engine's batch, intake, the dispatcher's step) use it; long ones (sweeps, exports) do not.
The one part of a commit that waits for the disk is SQLite's automatic checkpoint (copying the log into the
database, with its fsync, once the log is past 1,000 pages): an inline commit goes without it, and every
CHECKPOINT_EVERY-th inline commit of the process is followed by a checkpoint on the thread; commits on the thread keep
SQLite's own. The pool's reset of a connection (a ROLLBACK) is skipped when the connection's last call ended its
transaction: nothing to roll back, and nothing under way on the thread, so no trip there to find that out.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

import aiosqlite

# Inline commits of this process between two checkpoints of the write-ahead log: SQLite's own rule is one after the
# commit that takes the log past AUTOCHECKPOINT pages; an inline commit (the engine's batch) writes a few.
CHECKPOINT_EVERY = 200
AUTOCHECKPOINT = 1000  # SQLite's default


class InlineConnection(aiosqlite.Connection):
    inline = False
    ended = False  # the last call was a COMMIT or ROLLBACK that succeeded: no transaction, nothing under way
    inline_commits = 0  # of every connection of the process, for CHECKPOINT_EVERY

    def begin_at_once(self, busy_timeout_ms: int) -> bool:
        """BEGIN IMMEDIATE on the calling thread if SQLite's write lock is free (no other process is writing), without
        waiting for it: True when the transaction has begun; otherwise it is left to aiosqlite's thread, where
        waiting for the lock holds nothing else up."""
        if not self._running or not self._connection:
            return False
        self.ended = False
        conn = self._connection
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False  # locked by another process
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        return True

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.ended = False
        if not self.inline:
            return await super()._execute(fn, *args, **kwargs)
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def commit(self) -> None:
        """COMMIT where the transaction ran: inline without SQLite's checkpoint, which every CHECKPOINT_EVERY-th inline
        commit does on the thread afterwards."""
        if self.inline:
            conn = self._conn
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            try:
                conn.commit()
            finally:
                self.inline = False
                conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT}")
            InlineConnection.inline_commits += 1
            if InlineConnection.inline_commits % CHECKPOINT_EVERY == 0:
                await self._execute(_checkpoint, conn)
        else:
            await super().commit()
        self.ended = True

    async def rollback(self) -> None:
        if self.ended:
            return  # the pool's reset after the transaction ended: nothing to roll back, no trip to the thread for it
        try:
            await super().rollback()
        finally:
            self.inline = False
        self.ended = True


def _checkpoint(conn: sqlite3.Connection) -> None:
    # PASSIVE: what readers still use is copied by a later one; it never waits for them.
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def connect(database: str, **kwargs: Any) -> InlineConnection:
    """aiosqlite.connect's connection (SQLAlchemy's `async_creator_fn`), able to run inline: the sqlite3 connection is
    then used from two threads, never at once."""
    connection = InlineConnection(partial(sqlite3.connect, database, **{**kwargs, "check_same_thread": False}), 64)
    connection._thread.daemon = True  # as SQLAlchemy makes aiosqlite's own
    return connection


def set_inline(driver_connection: Any) -> None:
    """Runs the connection's calls inline until its transaction ends (`InlineConnection.commit`, `rollback`)."""
    if isinstance(driver_connection, InlineConnection):
        driver_connection.inline = True
