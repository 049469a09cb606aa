"""`baomi export compliance --out F.xlsx [--at YYYY-MM-DD]` and `baomi export roster --year Y --out F.xlsx`."""

from __future__ import annotations

import argparse
from datetime import datetime, time, timedelta

from bot.core.cli import CLI_LOCALE, CliEnv, day_option, out_path, write_private
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.export import compliance_workbook
from bot.handlers.compliance.roster_export import roster_rows, roster_workbook
from bot.handlers.pledges.catalog import load_catalog
from bot.services.calendar import work_calendar


async def export_compliance(env: CliEnv, args: argparse.Namespace) -> int:
    """Every department's standing on the duties, as of --at (default today), with who owes what."""
    out = out_path(args.out, (".xlsx",))
    settings = env.settings
    now = env.now()
    today = env.today()
    day = day_option(args.at, "--at") if args.at else today
    # A past day counts only what had been recorded by its end.
    until = datetime.combine(day + timedelta(days=1), time(), settings.timezone) if day < today else None
    catalog = load_catalog().catalog
    async with env.database() as db, db.sessions() as session:
        calendar = await work_calendar(session)
        departments = await compliance.departments(session, day, settings.policy, catalog, calendar, until=until)
    data = compliance_workbook(departments, settings.policy.bureau_name, now, env.texts, CLI_LOCALE, as_of=day)
    await write_private(out, data)
    count = sum(d.headcount for d in departments)
    env.say("exports/exported", doc="compliance", departments=len(departments), count=count, as_of=day, out=out)
    return 0


def compliance_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help=".xlsx file to write")
    parser.add_argument(
        "--at",
        help="the day the figures are for, YYYY-MM-DD (default: today); a past day counts only what had been "
        "recorded by its end",
    )


async def export_roster(env: CliEnv, args: argparse.Namespace) -> int:
    """The year's roster (花名册) of core and important classified staff."""
    out = out_path(args.out, (".xlsx",))
    async with env.database() as db, db.sessions() as session:
        rows = await roster_rows(session, args.year, env.settings.timezone)
    data = roster_workbook(rows, args.year, env.settings.policy.bureau_name, env.now(), env.texts, CLI_LOCALE)
    await write_private(out, data)
    env.say("exports/exported", doc="roster", year=args.year, count=len(rows), out=out)
    return 0


def roster_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--out", required=True, help=".xlsx file to write")
