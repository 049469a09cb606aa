"""SQLite's short statements without the thread hop.

aiosqlite runs every call on a thread of its own: a statement crosses to it and back about four times (cursor,
execute, fetch, close), each a queue put, a wake-up of the thread and a call back into the event loop, which cost
more CPU than the statement itself. `InlineConnection` runs the calls on the calling thread (the event loop's)
while `inline` is set, and on aiosqlite's thread otherwise: the same calls on the same sqlite3 connection, one
at a time either way (each is awaited before the next), so every statement behaves alike on both paths.

Database.transaction(inline=True) sets it once the write transaction has begun (BEGIN IMMEDIATE, which may wait
for another process's writer, stays on the thread); the COMMIT or ROLLBACK that ends the transaction runs inline
too and clears it. Inside the write transaction nothing waits for a lock, and in WAL mode with synchronous=NORMAL a
commit only appends to the log, so a statement blocks the event loop for its own work only: units of work of
short statements (the engine's batch, intake, the dispatcher's step) use it; long ones (sweeps, exports) do not.
The one part of a commit that waits for the disk, copying the log into the database (a checkpoint, with its
fsync), is taken out of the commits (`PRAGMA wal_autocheckpoint=0` on every connection) and done on the thread
after every CHECKPOINT_EVERY-th commit of the process. The pool's reset of a connection after a commit finds no
transaction to roll back, and no longer crosses to the thread to find that out.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

import aiosqlite

# Commits of this process between two checkpoints of the write-ahead log: SQLite's own default is one after the
# commit that takes the log past 1,000 pages (4 MB); the engine's commits write a few pages each.
CHECKPOINT_EVERY = 200


class InlineConnection(aiosqlite.Connection):
    inline = False
    commits = 0  # of every connection of the process, for CHECKPOINT_EVERY

    def begin_at_once(self, busy_timeout_ms: int) -> bool:
        """BEGIN IMMEDIATE on the calling thread if SQLite's write lock is free (no other process is writing), without
        waiting for it: True when the transaction has begun; otherwise it is left to aiosqlite's thread, where
        waiting for the lock holds nothing else up."""
        if not self._running or not self._connection:
            return False
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
        if not self.inline:
            return await super()._execute(fn, *args, **kwargs)
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def commit(self) -> None:
        """COMMIT where the transaction ran; then, every CHECKPOINT_EVERY commits, a checkpoint on the thread."""
        try:
            await super().commit()
        finally:
            self.inline = False
        InlineConnection.commits += 1
        if InlineConnection.commits % CHECKPOINT_EVERY == 0:
            await self._execute(_checkpoint, self._conn)

    async def rollback(self) -> None:
        if self._connection is not None and not self._connection.in_transaction:
            return  # the pool's reset after a commit: nothing to roll back, no trip to the thread to find that out
        try:
            await super().rollback()
        finally:
            self.inline = False


def _checkpoint(conn: sqlite3.Connection) -> None:
    # PASSIVE: what readers still use is copied by a later one; it never waits for them.
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def connect(database: str, **kwargs: Any) -> InlineConnection:
    """aiosqlite.connect's connection (SQLAlchemy's `async_creator_fn`), able to run inline: the sqlite3 connection is
    then used from two threads, never at once."""
    connection = InlineConnection(partial(sqlite3.connect, database, **{**kwargs, "check_same_thread": False}), 64)
    connection._thread.daemon = True  # as SQLAlchemy makes aiosqlite's own
    return connection


def set_inline(driver_connection: Any, on: bool) -> None:
    if isinstance(driver_connection, InlineConnection):
        driver_connection.inline = on
