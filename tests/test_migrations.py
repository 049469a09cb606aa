"""The schema is Alembic's: upgrade, downgrade and upgrade again on both databases, matching the models."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from subprocess import DEVNULL, PIPE

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.migrate import downgrade, upgrade
from bot.db.models import Base
from tests.conftest import BACKENDS, PG_URL, reset_postgres, sqlite_url


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "m.db")
    request.getfixturevalue("postgres_ready")
    asyncio.run(reset_postgres(PG_URL))
    return PG_URL


async def tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names


async def drift(url: str) -> list[object]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    await engine.dispose()
    return diff


async def test_upgrade_downgrade_upgrade(fresh_url: str) -> None:
    expected = {t.name for t in Base.metadata.sorted_tables}
    await upgrade(fresh_url)
    assert expected <= await tables(fresh_url)
    await downgrade(fresh_url)
    assert await tables(fresh_url) <= {"alembic_version"}
    await upgrade(fresh_url)
    assert expected <= await tables(fresh_url)
    assert await drift(fresh_url) == []  # the migrations build exactly what the models describe


async def test_instances_starting_together_migrate_once(postgres_ready: str) -> None:
    """Three processes migrating an empty PostgreSQL database at once: each waits for the one migrating, and all
    succeed (without the lock, all but one failed on a table that existed by then)."""
    await reset_postgres(PG_URL)
    env = {**os.environ, "BAOMI_DATABASE_URL": PG_URL}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "db", "upgrade", env=env, stdout=DEVNULL, stderr=PIPE
        )
        for _ in range(3)
    ]
    errors = [(await p.communicate())[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], errors
    assert await drift(PG_URL) == []
