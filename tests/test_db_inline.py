"""Units of work of short statements on SQLite run them on the event loop's thread (bot/db/inline.py): the same
statements give the same results either way; the commit ends the transaction on the event loop's thread too, and the
thread is aiosqlite's again afterwards, and for the checkpoints of the write-ahead log."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import OUTBOX, add, message_payload
from bot.db import inline
from bot.db.models import OutboxMessage
from bot.db.session import Database

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def statement_thread(session: AsyncSession) -> int:
    """The thread that runs this session's statements: a SQL function answering with it."""
    conn = await session.connection()
    driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    await driver.create_function("thread_id", 0, threading.get_ident)
    return int(await session.scalar(text("SELECT thread_id()")))


async def unit_of_work(db: Database, inline: bool, chat: str) -> tuple[list[tuple[str, int]], int]:
    """Rows queued and written by one executemany, then updated by another (as the dispatcher records outcomes)."""
    async with db.transaction(inline=inline) as session:
        for i in range(3):
            add(
                session,
                NOW,
                channel="telegram",
                chat_id=chat,
                op="send",
                payload=message_payload(Reply(f"m{i}")),
                priority=Priority.INTERACTIVE,
            )
    table: Table = OUTBOX
    async with db.transaction(inline=inline) as session:
        ids = (await session.scalars(select(OutboxMessage.id).where(OutboxMessage.chat_id == chat))).all()
        result = await session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"), table.c.status == "pending")
            .values(status=bindparam("status"), attempts=bindparam("attempts")),
            [{"row_id": row_id, "status": "sent", "attempts": n} for n, row_id in enumerate(ids[:2])],
        )
        updated = result.rowcount  # type: ignore[attr-defined]
    async with db.sessions() as session:
        rows = (
            await session.execute(
                select(OutboxMessage.status, OutboxMessage.attempts)
                .where(OutboxMessage.chat_id == chat)
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [(status, attempts) for status, attempts in rows], updated


async def test_inline_units_of_work_write_as_threaded_ones_do(db: Database) -> None:
    inline = await unit_of_work(db, True, "1")
    threaded = await unit_of_work(db, False, "2")
    assert inline == threaded  # the count of an executemany's rows too (PostgreSQL's driver does not give it)
    assert inline[0] == [("sent", 0), ("sent", 1), ("pending", 0)]


async def test_sqlite_runs_an_inline_unit_of_work_on_the_event_loops_thread(db: Database) -> None:
    if not db.is_sqlite:
        return  # PostgreSQL's driver has no thread of its own
    loop_thread = threading.get_ident()
    ends: list[tuple[str, int]] = []
    async with db.transaction(inline=True) as session:
        assert await statement_thread(session) == loop_thread
        conn = await session.connection()
        driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
        driver._conn.set_trace_callback(
            lambda sql: ends.append((sql, threading.get_ident())) if sql in ("COMMIT", "ROLLBACK") else None
        )
    driver._conn.set_trace_callback(None)
    assert ends == [("COMMIT", loop_thread)]  # the commit ran where the transaction did
    assert driver.inline is False  # whatever comes next goes to the thread
    async with db.transaction() as session:
        assert await statement_thread(session) != loop_thread
    async with db.sessions() as session:
        assert await statement_thread(session) != loop_thread


async def test_sqlite_waits_for_another_writer_off_the_event_loop(db: Database) -> None:
    """While another process holds SQLite's write lock, an inline unit of work waits for it on aiosqlite's thread:
    the event loop goes on meanwhile, and the unit of work runs once the lock is released."""
    if not db.is_sqlite:
        return
    async with db.transaction(inline=True) as session:  # the connection made (it puts the file in WAL mode)
        await statement_thread(session)
    path = db.url.split("///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:

        async def write() -> int:
            async with db.transaction(inline=True) as session:
                return await statement_thread(session)

        task = asyncio.create_task(write())
        ticks = 0
        for _ in range(20):  # the loop turns while the unit of work waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not task.done() and ticks == 20
    finally:
        other.execute("COMMIT")
        other.close()
    assert await asyncio.wait_for(task, 10) == threading.get_ident()  # its statements ran inline after all


async def test_sqlite_checkpoints_the_log_off_the_event_loop(db: Database, monkeypatch: Any) -> None:
    """An inline commit goes without SQLite's automatic checkpoint (it would run on the event loop, waiting for the
    disk): every CHECKPOINT_EVERY-th inline commit checkpoints on aiosqlite's thread, which keeps the log from growing;
    commits on the thread keep SQLite's own checkpoints."""
    if not db.is_sqlite:
        return
    path = Path(db.url.split("///", 1)[1])
    async with db.transaction(inline=True) as session:
        await session.execute(text("CREATE TABLE filler (blob BLOB)"))

    async def log_after(commits: int, *, inline_: bool, every: int = 10**9) -> tuple[int, set[int], int]:
        """The log's size after `commits` units of work of four pages each, and the threads that checkpointed."""
        monkeypatch.setattr(inline, "CHECKPOINT_EVERY", every)
        async with db.transaction(inline=True) as session:
            await session.execute(text("DELETE FROM filler"))
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the log starts afresh
        threads: set[int] = set()
        for _ in range(commits):
            async with db.transaction(inline=inline_) as session:
                await session.execute(text("INSERT INTO filler VALUES (randomblob(16000))"))
                conn = await session.connection()
                driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
                driver._conn.set_trace_callback(
                    lambda sql: threads.add(threading.get_ident()) if "wal_checkpoint" in sql else None
                )
            driver._conn.set_trace_callback(None)
        return (path.parent / f"{path.name}-wal").stat().st_size, threads, driver._thread.ident

    never, none, _ = await log_after(60, inline_=True)
    assert never > 60 * 16000 and not none  # nothing copied the log into the database: it holds every commit
    often, threads, aiosqlite_thread = await log_after(60, inline_=True, every=5)
    assert often < 15 * 16000  # the log is written from its start again after each checkpoint
    assert threads == {aiosqlite_thread}  # not the event loop's
    # On the thread, SQLite checkpoints once the log is past 1,000 pages (4 MB): 300 commits would make it 20 MB.
    threaded, _, _ = await log_after(300, inline_=False)
    assert threaded < 6_000_000


async def test_a_unit_of_work_given_up_while_waiting_for_the_lock_leaves_nothing_held(db: Database) -> None:
    """Cancelled while another process holds the write lock, its BEGIN waiting on aiosqlite's thread and getting the
    lock once the other is done: the transaction is rolled back there, and the lock is free again for everyone."""
    if not db.is_sqlite:
        return
    async with db.transaction(inline=True) as session:
        await statement_thread(session)
    path = db.url.split("///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA busy_timeout = 0")  # below: fails at once if anyone holds the lock
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with db.transaction(inline=True) as session:
            await session.execute(text("SELECT 1"))

    task = asyncio.create_task(write())
    await asyncio.sleep(0.1)
    task.cancel()
    await asyncio.sleep(0.05)
    other.execute("COMMIT")  # the waiting BEGIN gets the lock now, for a unit of work that is given up
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    for _ in range(3):  # the pooled connections are usable
        async with db.transaction(inline=True) as session:
            await session.execute(text("SELECT 1"))
    other.execute("BEGIN IMMEDIATE")  # and none of them keeps the lock
    other.execute("COMMIT")
    other.close()
