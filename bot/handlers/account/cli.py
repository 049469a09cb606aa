"""`baomi roster import FILE`: the people on the roster."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.config import ConfigError
from bot.core.cli import CLI_LOCALE, CliEnv
from bot.domain.roster import RosterError
from bot.services.roster import describe_errors, import_roster, read_roster


async def roster_import(env: CliEnv, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not await asyncio.to_thread(path.is_file):
        raise ConfigError(f"no such file: {path}")
    try:
        rows = read_roster(path)
        async with env.database() as db, db.transaction() as session:
            result = await import_roster(session, rows, env.now(), env.settings.timezone)
    except RosterError as exc:
        problems = describe_errors(exc.errors, env.texts, CLI_LOCALE)
        env.say("cli/roster_rejected", err=True, problems=problems)
        return 1
    env.say("cli/roster_imported", result=result)
    return 0


def roster_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file")
