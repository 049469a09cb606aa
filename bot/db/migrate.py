"""Alembic, driven from code so that `baomi run`, `baomi db upgrade` and the tests share one path."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


async def upgrade(url: str, revision: str = "heads") -> None:
    # env.py runs its own event loop, so Alembic gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def downgrade(url: str, revision: str = "base") -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)
