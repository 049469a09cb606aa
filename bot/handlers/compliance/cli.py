"""`baomi export compliance --out F.xlsx [--at YYYY-MM-DD]` and `baomi export roster --year Y --out F.xlsx`."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot.cli import _ready
from bot.clock import SystemClock
from bot.config import ConfigError, Settings
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.export import compliance_workbook
from bot.handlers.compliance.roster_export import roster_rows, roster_workbook
from bot.handlers.pledges.catalog import load_catalog
from bot.services.calendar import work_calendar
from bot.texts import Texts

LOCALE = "zh"


def _xlsx(value: str) -> Path:
    out = Path(value)
    if out.suffix.lower() != ".xlsx":
        raise ConfigError(f"--out must end in .xlsx: {out}")
    return out


async def cmd_export_compliance(settings: Settings, args: argparse.Namespace) -> int:
    """Every department's standing on the duties, as of --at (default today), with who owes what."""
    out = _xlsx(args.out)
    now = SystemClock().now()
    today = now.astimezone(settings.timezone).date()
    try:
        day = date.fromisoformat(args.at) if args.at else today
    except ValueError as exc:
        raise ConfigError(f"--at must be YYYY-MM-DD: {args.at!r}") from exc
    # A past day counts only what had been recorded by its end.
    until = datetime.combine(day + timedelta(days=1), time(), settings.timezone) if day < today else None
    catalog = load_catalog().catalog
    texts = Texts(settings.timezone)
    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            calendar = await work_calendar(session)
            departments = await compliance.departments(session, day, settings.policy, catalog, calendar, until=until)
    finally:
        await db.dispose()
    data = compliance_workbook(departments, settings.policy.bureau_name, now, texts, LOCALE, as_of=day)
    await asyncio.to_thread(out.write_bytes, data)
    count = sum(d.headcount for d in departments)
    print(
        texts.render(
            "exports/exported", LOCALE, doc="compliance", departments=len(departments), count=count, as_of=day, out=out
        )
    )
    return 0


async def cmd_export_roster(settings: Settings, args: argparse.Namespace) -> int:
    """The year's roster (花名册) of core and important classified staff."""
    out = _xlsx(args.out)
    now = SystemClock().now()
    texts = Texts(settings.timezone)
    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            rows = await roster_rows(session, args.year, settings.timezone)
    finally:
        await db.dispose()
    data = roster_workbook(rows, args.year, settings.policy.bureau_name, now, texts, LOCALE)
    await asyncio.to_thread(out.write_bytes, data)
    print(texts.render("exports/exported", LOCALE, doc="roster", year=args.year, count=len(rows), out=out))
    return 0


def add_parsers(export_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The two subcommands under `baomi export`."""
    export_compliance = export_sub.add_parser(
        "compliance", help="every department's standing on the duties, and who owes each (保密工作完成情况)"
    )
    export_compliance.add_argument("--out", required=True, help=".xlsx file to write")
    export_compliance.add_argument(
        "--at",
        help="the day the figures are for, YYYY-MM-DD (default: today); a past day counts only what had been "
        "recorded by its end",
    )
    export_compliance.set_defaults(func=cmd_export_compliance)
    export_roster = export_sub.add_parser("roster", help="the year's roster of core and important staff (花名册)")
    export_roster.add_argument("--year", type=int, required=True)
    export_roster.add_argument("--out", required=True, help=".xlsx file to write")
    export_roster.set_defaults(func=cmd_export_roster)
