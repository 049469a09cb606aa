"""A conversation saved or ended from a stale read changes nothing and says so (bot/db/conversations.py): the engine
then processes the event again from what the other step saved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.db import conversations
from bot.db.session import Database
from bot.testing.seed import seed_bound_staff

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def test_a_step_saved_from_a_stale_read_is_refused(db: Database) -> None:
    (staff,) = await seed_bound_staff(db, NOW, 1, department="科室", prefix="C")
    async with db.transaction(inline=True) as session:
        await conversations.save(session, staff, None, "quiz", {"state": "a"}, [{"text": "1", "data": "x"}], NOW)
    async with db.transaction(inline=True) as session:
        read = (await conversations.of(session, [staff]))[staff]
        await conversations.save(session, staff, read, "quiz", {"state": "b"}, None, NOW)
    assert (read.version, read.state, read.offered) == (1, {"state": "a"}, [{"text": "1", "data": "x"}])
    async with db.transaction(inline=True) as session:
        with pytest.raises(conversations.StaleState):
            await conversations.save(session, staff, read, "quiz", {"state": "c"}, None, NOW)
    async with db.transaction(inline=True) as session:
        with pytest.raises(conversations.StaleState):
            await conversations.end(session, read)
    async with db.transaction(inline=True) as session:
        now_read = (await conversations.of(session, [staff]))[staff]
        assert (now_read.version, now_read.state) == (2, {"state": "b"})
        await conversations.end(session, now_read)
        assert await conversations.of(session, [staff]) == {}
