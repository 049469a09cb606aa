"""Insert-or-ignore that works on SQLite and PostgreSQL alike."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
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


@functools.cache
def _insert_ignore_returning(
    dialect: str, model: type[DeclarativeBase], conflict: tuple[str, ...], returning: str
) -> Any:
    """The statement of `insert_ignore_returning`, built once (its cache key is then worked out once)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The table, not the mapped class: an ORM-enabled multi-row insert spends most of its time in the ORM. One
    # statement with the rows as parameters (SQLAlchemy batches them into multi-row VALUES itself): compiled once and
    # cached, where a VALUES list built from the rows was compiled again for every chunk.
    table = cast(Table, model.__table__)
    return insert(table).on_conflict_do_nothing(index_elements=list(conflict)).returning(table.c[returning])


async def insert_ignore_returning(
    session: AsyncSession,
    model: type[DeclarativeBase],
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    returning: str,
    chunk: int = 1000,
) -> list[Any]:
    """Insert-or-ignore many rows; returns the `returning` column of those actually inserted."""
    stmt = _insert_ignore_returning(session.get_bind().dialect.name, model, tuple(conflict), returning)
    inserted: list[Any] = []
    for start in range(0, len(rows), chunk):
        inserted.extend((await session.execute(stmt, list(rows[start : start + chunk]))).scalars().all())
    return inserted
