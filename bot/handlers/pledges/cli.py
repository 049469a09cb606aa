"""`baomi pledge pdf`, `baomi audit verify` and `baomi export pledges`."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.core.cli import CliEnv, out_path, write_private
from bot.handlers.pledges import documents as pledge_documents
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import load_catalog
from bot.services import audit, people
from bot.texts import Texts


def _word(texts: Texts) -> pledge_documents.Word:
    return lambda key: texts.render("pledge/word", "zh", key=key)


async def pledge_pdf(env: CliEnv, args: argparse.Namespace) -> int:
    """The printable copy of a person's signed pledge (the latest, or --record N)."""
    out = Path(args.out)
    async with env.database() as db, db.sessions() as session:
        person = await people.by_employee_id(session, args.employee_id)
        made = None
        if person is not None:
            made = await pledge_documents.pledge_pdf(
                session, person.id, _word(env.texts), env.settings.timezone, args.record
            )
    if person is None:
        env.say("cli/no_person", employee_id=args.employee_id, active=False, option=None)
        return 1
    if made is None:
        env.say("cli/pledge_pdf", person=person, receipt=None, record=args.record, out=out)
        return 1
    data, receipt = made
    await write_private(out, data)
    env.say("cli/pledge_pdf", person=person, receipt=receipt, record=args.record, out=out)
    return 0


def pdf_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("employee_id")
    parser.add_argument("--out", required=True, help="PDF file to write")
    parser.add_argument("--record", type=int, help="a given record number (default: the latest signed)")


async def audit_verify(env: CliEnv, args: argparse.Namespace) -> int:
    """Walks the audit log and the pledge records; names the first broken link of each chain."""
    async with env.database() as db, db.sessions() as session:
        reports = [("audit_log", await audit.verify(session)), ("pledge_record", await pledges.verify(session))]
    env.say("cli/chains", reports=reports)
    return 1 if any(report.broken_at is not None for _, report in reports) else 0


async def export_pledges(env: CliEnv, args: argparse.Namespace) -> int:
    """Everyone's pledges of a year: kind, state, version."""
    out = out_path(args.out, (".xlsx", ".csv"))
    fmt = out.suffix.lower().lstrip(".")
    settings = env.settings
    book = load_catalog()
    async with env.database() as db, db.sessions() as session:
        data, count = await pledge_documents.export(
            session, args.year, env.today(), settings.timezone, settings.policy, book.catalog, _word(env.texts), fmt
        )
    await write_private(out, data)
    env.say("cli/exported", doc="pledges", year=args.year, count=count, out=out)
    return 0


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--out", required=True, help=".xlsx or .csv")
