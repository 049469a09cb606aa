"""SQLite's one writer within the process: the sweeps' transactions are background work, so a person's update, and
what its transaction sets off (the engine's step, the dispatcher's claim), goes before the next chunk of a sweep
that was waiting before them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from bot.db.session import Database
from tests.conftest import sqlite_url


async def test_a_background_transaction_lets_the_others_and_what_they_set_off_go_first(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "lock.db"))
    order: list[str] = []
    holding, release = asyncio.Event(), asyncio.Event()

    async def write(name: str, background: bool = False) -> None:
        async with db.transaction(background=background) as session:
            await session.execute(text("SELECT 1"))
            order.append(name)
            if name == "chunk 1":
                holding.set()
                await release.wait()

    async def update_then_step() -> None:
        await write("update")
        await write("step")  # set off by the update's commit, asked right after it

    try:
        first = asyncio.create_task(write("chunk 1", background=True))
        await holding.wait()
        second = asyncio.create_task(write("chunk 2", background=True))
        for _ in range(5):
            await asyncio.sleep(0)  # the next chunk waits for the lock before the update comes
        person = asyncio.create_task(update_then_step())
        for _ in range(5):
            await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, second, person)
    finally:
        await db.dispose()
    assert order == ["chunk 1", "update", "step", "chunk 2"]
