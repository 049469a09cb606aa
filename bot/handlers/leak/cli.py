"""`baomi export reports --out F.xlsx`: every leak case and its event chain, for the secrecy office."""

from __future__ import annotations

import argparse

from bot.core.cli import CliEnv, out_path, write_private
from bot.handlers.leak import service as leak
from bot.handlers.leak.export import workbook_bytes


async def export_reports(env: CliEnv, args: argparse.Namespace) -> int:
    out = out_path(args.out, (".xlsx",))
    async with env.database() as db, db.sessions() as session:
        cases = await leak.all_cases(session)
        events = await leak.events(session)
        chain = await leak.verify_events(session)
    await write_private(out, workbook_bytes(env.texts, cases, events))
    env.say("cases/exported", count=len(cases), out=str(out), chain=chain)
    return 0 if chain.broken_at is None else 1


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help=".xlsx file to write")
