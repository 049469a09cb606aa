"""Insert-or-ignore that works on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def insert_ignore(
    session: AsyncSession, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> int:
    """Insert rows, silently skipping those that clash on `conflict`; returns how many were inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(list(rows)).on_conflict_do_nothing(index_elements=list(conflict))
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
