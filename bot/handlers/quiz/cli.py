"""`baomi quiz check [FILE]`, `baomi quiz verify CODE` and `baomi export quiz --year YYYY --out F.xlsx|.csv`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.cli import CLI_LOCALE, _ready, _texts, say
from bot.config import ConfigError, Settings
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import check_bank_text, load_bank
from bot.handlers.quiz.export import csv_bytes, workbook_bytes
from bot.texts import Texts


async def cmd_quiz_check(settings: Settings, args: argparse.Namespace) -> int:
    """One line per problem and a non-zero exit, or the size of a bank that passes."""
    path = Path(args.file) if args.file else quiz.BANK_PATH
    if not await asyncio.to_thread(path.is_file):
        raise ConfigError(f"no such file: {path}")
    problems = check_bank_text(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    if problems:
        lines = quiz.describe_problems(problems, _texts(settings.timezone), CLI_LOCALE)
        say(settings, "bank", file=path.name, problems=lines)
        return 1
    bank = load_bank(path)
    say(settings, "bank", problems=[], questions=len(bank.questions), topics=len(bank.topics))
    return 0


async def cmd_quiz_verify(settings: Settings, args: argparse.Namespace) -> int:
    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            found = await quiz.certificate(session, args.code)
    finally:
        await db.dispose()
    say(settings, "certificate", found=found, code=args.code)
    return 0 if found is not None else 1


async def cmd_export_quiz(settings: Settings, args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise ConfigError(f"--out must end in .xlsx or .csv: {out}")
    bank = load_bank(quiz.BANK_PATH)
    texts = Texts(settings.timezone)
    excellent = settings.policy.quiz_excellent_mark
    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            rows = await quiz.export_rows(session, args.year)
            misses = await quiz.most_missed(session, args.year)
    finally:
        await db.dispose()
    known = {q.id for q in bank.questions}
    missed = [(m, bank.by_id(m.question_id)) for m in misses if m.question_id in known]
    if out.suffix.lower() == ".csv":
        content = csv_bytes(texts, "zh", rows, excellent)
    else:
        content = workbook_bytes(texts, "zh", rows, missed, excellent)
    await asyncio.to_thread(out.write_bytes, content)
    say(settings, "exported", doc="quiz", year=args.year, count=len(rows), out=out)
    return 0
