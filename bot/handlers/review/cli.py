"""`baomi export reviews --out F.xlsx` (the 信息发布保密审查登记表) and `baomi review pdf NUMBER --out F.pdf` (a
completed 审查单)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.core.cli import CLI_LOCALE, CliEnv, out_path, write_private
from bot.handlers.review import documents
from bot.handlers.review import service as review


async def export_reviews(env: CliEnv, args: argparse.Namespace) -> int:
    """Every request (or those first submitted in --year) with each stage's reviewer, opinion and date."""
    out = out_path(args.out, (".xlsx",))
    async with env.database() as db, db.sessions() as session:
        requests = await review.all_requests(session, env.settings.timezone, args.year)
    data = documents.ledger_workbook(requests, env.settings.policy.bureau_name, env.now(), env.texts, CLI_LOCALE)
    await write_private(out, data)
    env.say("review/exported", count=len(requests), year=args.year, out=str(out))
    return 0


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help=".xlsx file to write")
    parser.add_argument("--year", type=int, help="only the requests first submitted in this year (default: all)")


async def review_pdf(env: CliEnv, args: argparse.Namespace) -> int:
    """The printable 审查单 of an approved request, by its number."""
    out = out_path(args.out, (".pdf",))
    async with env.database() as db, db.sessions() as session:
        request = await review.by_number(session, args.number)
    if request is None:
        env.say("review/pdf_made", request=None, number=args.number, out=str(out))
        return 1
    data = documents.form_pdf(request, env.settings.policy.bureau_name, env.texts, CLI_LOCALE)
    await write_private(Path(out), data)
    env.say("review/pdf_made", request=request, number=args.number, out=str(out))
    return 0


def pdf_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", help="the 审查单 number, e.g. SC-2026-0042")
    parser.add_argument("--out", required=True, help="PDF file to write")
