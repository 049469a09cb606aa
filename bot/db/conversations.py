"""The conversation a person is in, as the engine reads and saves it: SQLAlchemy Core statements on the
conversation table (the ORM's unit of work cost more than the step itself), with the same optimistic locking the
version column gives: a step saved from a stale read changes no row and raises StaleState."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation as ConversationRow

TABLE = cast(Table, ConversationRow.__table__)


class StaleState(Exception):
    """Another step saved this person's conversation first; the event is processed again."""


@dataclass(frozen=True)
class Conversation:
    staff_id: int
    flow: str
    state: dict[str, Any]
    version: int  # bumped on every step: buttons carry it, so a stale or doubled press is recognised
    offered: list[dict[str, str]] | None  # the buttons the last step offered (bot/core/typed.py)


# Built once, with their values bound at each use: a statement's cache key is then worked out once, not at every step.
OF = select(TABLE.c.staff_id, TABLE.c.flow, TABLE.c.state, TABLE.c.version, TABLE.c.offered).where(
    TABLE.c.staff_id.in_(bindparam("staff_ids", expanding=True))
)
FIRST = insert(TABLE)
NEXT = (
    update(TABLE)
    .where(TABLE.c.staff_id == bindparam("b_staff_id"), TABLE.c.version == bindparam("b_version"))
    .values(version=TABLE.c.version + 1)
)
END = delete(TABLE).where(TABLE.c.staff_id == bindparam("b_staff_id"), TABLE.c.version == bindparam("b_version"))


async def of(session: AsyncSession, staff_ids: Collection[int]) -> dict[int, Conversation]:
    """The conversations these people are in (those in none are left out)."""
    rows = (await session.execute(OF, {"staff_ids": list(staff_ids)})).all()
    return {row.staff_id: Conversation(*row) for row in rows}


COLUMNS = OF.selected_columns  # a statement that reads people's conversations with them adds these, in this order


def joined(values: Sequence[Any]) -> Conversation | None:
    """The conversation from COLUMNS' values in a row that left-joined the table (None: the person is in none)."""
    return None if values[0] is None else Conversation(*values)


async def save(
    session: AsyncSession,
    staff_id: int,
    current: Conversation | None,
    flow: str,
    state: dict[str, Any],
    offered: list[dict[str, str]] | None,
    now: datetime,
) -> None:
    """The step's state saved as the next version of `current` (or as the first, with none)."""
    values = {"flow": flow, "state": state, "offered": offered, "updated_at": now}
    if current is None:
        await session.execute(FIRST, {"staff_id": staff_id, "version": 1, **values})
        return
    result = await session.execute(NEXT, {"b_staff_id": staff_id, "b_version": current.version, **values})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleState()


async def end(session: AsyncSession, current: Conversation) -> None:
    """The conversation is over (the version read is checked, as a save checks it)."""
    result = await session.execute(END, {"b_staff_id": current.staff_id, "b_version": current.version})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleState()
