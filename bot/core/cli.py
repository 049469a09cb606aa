"""What a `baomi` subcommand works with: the settings, the clock, the templates and the database.

A capability adds a subcommand with `bot.cli("export pledges", run, help, arguments)` (bot/core/capability.py);
`run(env, args)` returns the exit status. Every subcommand is one unit of work: `async with env.database() as db`
opens the database (migrated to the latest schema) and disposes of it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.clock import Clock, SystemClock
from bot.config import ConfigError, Settings
from bot.db.migrate import upgrade
from bot.db.session import Database
from bot.texts import Texts

CLI_LOCALE = "zh"


@dataclass
class CliEnv:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def texts(self) -> Texts:
        return Texts(self.settings.timezone)

    def say(self, template: str, /, *, err: bool = False, **context: Any) -> None:
        """Print a template (e.g. "cli/exported") in the command line's language."""
        text = self.texts.render(template, CLI_LOCALE, **context)
        print(text, file=sys.stderr if err else sys.stdout)

    @asynccontextmanager
    async def database(self) -> AsyncIterator[Database]:
        """The database, reachable (else one line saying what to set) and migrated; disposed of afterwards."""
        db = Database(self.settings.database_url)
        try:
            await db.check()
            await upgrade(self.settings.database_url)
            yield db
        finally:
            await db.dispose()

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.clock.now().astimezone(self.settings.timezone).date()

    def instant(self, text: str) -> datetime:
        """An ISO date-time given on the command line; without a zone it is read in BAOMI_TIMEZONE."""
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ConfigError(f"not an ISO date-time: {text!r} (e.g. 2026-03-02T09:00)") from exc
        return value if value.tzinfo else value.replace(tzinfo=self.settings.timezone)


def day_option(value: str, option: str) -> date:
    """A YYYY-MM-DD option, or one line saying what is expected."""
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option} must be YYYY-MM-DD: {value!r}") from exc


def out_path(value: str, suffixes: Sequence[str]) -> Path:
    """An --out file whose suffix is one of `suffixes` (".xlsx", ".csv", …)."""
    out = Path(value)
    if out.suffix.lower() not in suffixes:
        raise ConfigError(f"--out must end in {' or '.join(suffixes)}: {out}")
    return out


async def write_private(path: Path, data: bytes) -> None:
    """Write a file that only its owner may read or change (0600), whatever the umask and whatever mode an earlier
    file of that name had: invitation codes, names and levels, leak cases are not for everyone on the machine."""

    def write() -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)

    await asyncio.to_thread(write)
