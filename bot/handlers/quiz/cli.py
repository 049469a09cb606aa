"""`baomi quiz check [FILE]`, `baomi quiz verify CODE` and `baomi export quiz --year YYYY --out F.xlsx|.csv`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.config import ConfigError
from bot.core.cli import CLI_LOCALE, CliEnv, out_path, write_private
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import check_bank_text, load_bank
from bot.handlers.quiz.export import csv_bytes, workbook_bytes


async def quiz_check(env: CliEnv, args: argparse.Namespace) -> int:
    """One line per problem and a non-zero exit, or the size of a bank that passes."""
    path = Path(args.file) if args.file else quiz.BANK_PATH
    if not await asyncio.to_thread(path.is_file):
        raise ConfigError(f"no such file: {path}")
    problems = check_bank_text(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    if problems:
        lines = quiz.describe_problems(problems, env.texts, CLI_LOCALE)
        env.say("cli/bank", file=path.name, problems=lines)
        return 1
    bank = load_bank(path)
    env.say("cli/bank", problems=[], questions=len(bank.questions), topics=len(bank.topics))
    return 0


def check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?")


async def quiz_verify(env: CliEnv, args: argparse.Namespace) -> int:
    async with env.database() as db, db.sessions() as session:
        found = await quiz.certificate(session, args.code)
    env.say("cli/certificate", found=found, code=args.code)
    return 0 if found is not None else 1


def verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code")


async def export_quiz(env: CliEnv, args: argparse.Namespace) -> int:
    out = out_path(args.out, (".xlsx", ".csv"))
    bank = load_bank(quiz.BANK_PATH)
    excellent = env.settings.policy.quiz_excellent_mark
    async with env.database() as db, db.sessions() as session:
        rows = await quiz.export_rows(session, args.year)
        misses = await quiz.most_missed(session, args.year)
    known = {q.id for q in bank.questions}
    missed = [(m, bank.by_id(m.question_id)) for m in misses if m.question_id in known]
    if out.suffix.lower() == ".csv":
        content = csv_bytes(env.texts, CLI_LOCALE, rows, excellent)
    else:
        content = workbook_bytes(env.texts, CLI_LOCALE, rows, missed, excellent)
    await write_private(out, content)
    env.say("cli/exported", doc="quiz", year=args.year, count=len(rows), out=out)
    return 0


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--out", required=True, help=".xlsx (papers and missed questions) or .csv (papers)")
