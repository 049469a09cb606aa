"""`baomi`: the command line. Each command is one unit of work with its own transaction."""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.clock import SystemClock
from bot.config import ConfigError, Settings
from bot.db.migrate import downgrade, upgrade
from bot.db.session import Database
from bot.domain.roster import RosterError
from bot.handlers.quiz.bank import BankError
from bot.texts import Texts

if TYPE_CHECKING:
    from bot.jobs.runner import SweepRunner

log = logging.getLogger("baomi")


CLI_LOCALE = "zh"


@functools.cache
def _texts(timezone: ZoneInfo) -> Texts:
    return Texts(timezone)


def say(settings: Settings, name: str, *, err: bool = False, **context: Any) -> None:
    """Print what a command has to say, from its template under messages/cli/."""
    text = _texts(settings.timezone).render(f"cli/{name}", CLI_LOCALE, **context)
    print(text, file=sys.stderr if err else sys.stdout)


def setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_app

    app = build_app(settings, SystemClock())
    if settings.wecom is not None:
        log.warning("WeCom is configured, but only `baomi serve` receives its callbacks: `baomi run` only sends")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start(stop)
        await stop.wait()
        log.info("stopping")
    finally:
        await app.stop()
    return 0


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.server import serve

    app = build_app(settings, SystemClock(), serve=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, args.host, args.port, stop)
    return 0


async def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        await db.check()
    finally:
        await db.dispose()
    if args.action == "upgrade":
        await upgrade(settings.database_url, args.revision or "heads")
    else:
        await downgrade(settings.database_url, args.revision or "base")
    print(f"database {args.action}d")
    return 0


async def cmd_roster_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.roster import describe_errors, import_roster, read_roster

    path = Path(args.file)
    if not path.is_file():
        raise ConfigError(f"no such file: {path}")
    try:
        rows = read_roster(path)
    except RosterError as exc:
        problems = describe_errors(exc.errors, _texts(settings.timezone), CLI_LOCALE)
        say(settings, "roster_rejected", err=True, problems=problems)
        return 1
    db = await _ready(settings)
    try:
        async with db.transaction() as session:
            result = await import_roster(session, rows, SystemClock().now())
    finally:
        await db.dispose()
    say(settings, "roster_imported", result=result)
    return 0


async def cmd_invites(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.invitations import issue_for_unbound

    username = await bot_username(settings) if settings.telegram_token else None
    db = await _ready(settings)
    try:
        async with db.transaction() as session:
            issued = await issue_for_unbound(session, SystemClock().now(), settings.policy.invitation_valid_days)
    finally:
        await db.dispose()
    out = Path(args.out)
    with out.open("w", newline="", encoding="utf-8-sig") as fh:  # with BOM, so Excel opens it as UTF-8
        writer = csv.writer(fh)
        writer.writerow(["employee_id", "name", "code", "link"])
        for inv in issued:
            link = f"https://t.me/{username}?start={inv.code}" if username else ""
            writer.writerow([inv.employee_id, inv.name, inv.code, link])
    say(settings, "invites", count=len(issued), out=out, linked=bool(username))
    return 0


def sweep_runner(db: Database, settings: Settings) -> SweepRunner:
    """The bot's sweeps on the system clock, queuing into the outbox for the running bot to send."""
    from bot.app import capabilities
    from bot.jobs.runner import SweepRunner

    sweeps = capabilities().sweeps
    return SweepRunner(
        db, SystemClock(), settings.policy, Texts(settings.timezone), settings.timezone, sweeps, lambda: None
    )


async def cmd_jobs_run(settings: Settings, args: argparse.Namespace) -> int:
    """Whatever the scheduler would have queued up to that instant, queued once (the bot sends it)."""
    at = parse_instant(args.at, settings) if args.at else SystemClock().now()
    db = await _ready(settings)
    try:
        runner = sweep_runner(db, settings)
        done = await runner.run_all(at)
    finally:
        await db.dispose()
    say(settings, "jobs_run", done=done)
    return 1 if any(count < 0 for count in done.values()) else 0


async def cmd_jobs_preview(settings: Settings, args: argparse.Namespace) -> int:
    """What the sweeps would send, day by day, to whom — sending and keeping nothing."""
    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError as exc:
        raise ConfigError("--from and --to take dates like 2026-03-02") from exc
    db = await _ready(settings)
    try:
        runner = sweep_runner(db, settings)
        planned = await runner.preview(start, end)
    finally:
        await db.dispose()
    for item in planned:
        first_line = item.text.splitlines()[0] if item.text else ""
        print(f"{item.day.isoformat()}  {item.duty:<10} {item.name:<8} {first_line}")
    say(settings, "jobs_preview_total", count=len(planned))
    return 0


async def cmd_countdowns(settings: Settings, args: argparse.Namespace) -> int:
    """Everyone in a declassification period, soonest end first (as /countdowns shows officers)."""
    from bot.handlers.departures.service import running

    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            today = SystemClock().now().astimezone(settings.timezone).date()
            rows = await running(session, today)
    finally:
        await db.dispose()
    say(settings, "countdowns", rows=rows)
    return 0


def parse_instant(text: str, settings: Settings) -> datetime:
    """An ISO date-time; without a zone it is read in BAOMI_TIMEZONE."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"not an ISO date-time: {text!r} (e.g. 2026-03-02T09:00)") from exc
    return value if value.tzinfo else value.replace(tzinfo=settings.timezone)


async def bot_username(settings: Settings) -> str:
    from telegram import Bot

    async with Bot(settings.require_token(), base_url=settings.telegram_api_url) as bot:
        return bot.username


async def _ready(settings: Settings) -> Database:
    db = Database(settings.database_url)
    await db.check()
    await upgrade(settings.database_url)
    return db


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baomi", description="保密助手 — confidentiality work of an education bureau")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="apply migrations and run the bot (Telegram long polling)").set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", help="run the bot behind one HTTP server: WeCom callbacks, Telegram webhook")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?")
    db.set_defaults(func=cmd_db)

    roster = sub.add_parser("roster", help="staff roster")
    roster_sub = roster.add_subparsers(dest="roster_command", required=True)
    imp = roster_sub.add_parser("import", help="import a roster (CSV in UTF-8/GBK, or XLSX)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_roster_import)

    inv = sub.add_parser("invites", help="issue invitation codes for everyone not bound yet")
    inv.add_argument("--out", required=True, help="CSV file to write")
    inv.set_defaults(func=cmd_invites)

    jobs = sub.add_parser("jobs", help="scheduled duties")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    run_jobs = jobs_sub.add_parser("run", help="queue once whatever is due up to an instant")
    run_jobs.add_argument("--at", help="ISO date-time (default: now), read in BAOMI_TIMEZONE without a zone")
    run_jobs.set_defaults(func=cmd_jobs_run)
    preview = jobs_sub.add_parser("preview", help="print what would be sent, day by day, without sending")
    preview.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    preview.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    preview.set_defaults(func=cmd_jobs_preview)
    sub.add_parser("countdowns", help="everyone in a declassification period").set_defaults(func=cmd_countdowns)

    # `baomi export <what> --out F.xlsx|.csv`: each capability adds its own subcommand below.
    export = sub.add_parser("export", help="workbooks for the office and inspections")
    export_sub = export.add_subparsers(dest="export_command", required=True)

    # --- pledges ---
    from bot.handlers.pledges.cli import cmd_audit_verify, cmd_depart, cmd_export_pledges, cmd_pledge_pdf

    pledge = sub.add_parser("pledge", help="confidentiality pledges (保密承诺书)")
    pledge_sub = pledge.add_subparsers(dest="pledge_command", required=True)
    pdf = pledge_sub.add_parser("pdf", help="the printable copy (A4 PDF) of a person's signed pledge")
    pdf.add_argument("employee_id")
    pdf.add_argument("--out", required=True, help="PDF file to write")
    pdf.add_argument("--record", type=int, help="a given record number (default: the latest signed)")
    pdf.set_defaults(func=cmd_pledge_pdf)
    depart = sub.add_parser("depart", help="record an approved departure and ask for the departure pledge")
    depart.add_argument("employee_id")
    depart.add_argument("--date", required=True, help="YYYY-MM-DD the unit approved leaving the post")
    depart.add_argument("--by", help="employee id of the officer recording it")
    depart.set_defaults(func=cmd_depart)
    audit_cmd = sub.add_parser("audit", help="inspection checks")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the audit log and pledge record chains").set_defaults(
        func=cmd_audit_verify
    )
    export_pledges = export_sub.add_parser("pledges", help="everyone's pledges of a year: kind, state, version")
    export_pledges.add_argument("--year", type=int, required=True)
    export_pledges.add_argument("--out", required=True, help=".xlsx or .csv")
    export_pledges.set_defaults(func=cmd_export_pledges)
    # --- end pledges ---
    # --- quiz ---
    from bot.handlers.quiz.cli import cmd_export_quiz, cmd_quiz_check, cmd_quiz_verify

    quiz = sub.add_parser("quiz", help="training quiz (保密知识答卷)")
    quiz_sub = quiz.add_subparsers(dest="quiz_command", required=True)
    check = quiz_sub.add_parser("check", help="validate a question bank (default: the shipped one)")
    check.add_argument("file", nargs="?")
    check.set_defaults(func=cmd_quiz_check)
    verify = quiz_sub.add_parser("verify", help="confirm a quiz certificate by its verification code")
    verify.add_argument("code")
    verify.set_defaults(func=cmd_quiz_verify)
    export_quiz = export_sub.add_parser("quiz", help="every quiz paper of a year and the most-missed questions")
    export_quiz.add_argument("--year", type=int, required=True)
    export_quiz.add_argument("--out", required=True, help=".xlsx (papers and missed questions) or .csv (papers)")
    export_quiz.set_defaults(func=cmd_export_quiz)
    # --- end quiz ---
    # --- leak reports ---
    from bot.handlers.leak.cli import cmd_export_reports

    export_reports = export_sub.add_parser("reports", help="every leak case and its event chain (泄密事件报告)")
    export_reports.add_argument("--out", required=True, help=".xlsx file to write")
    export_reports.set_defaults(func=cmd_export_reports)
    # --- end leak reports ---
    # --- compliance ---
    from bot.handlers.compliance.cli import add_parsers as add_compliance_parsers

    add_compliance_parsers(export_sub)  # `baomi export compliance`, `baomi export roster`
    # --- end compliance ---
    # --- broadcasts ---
    from bot.handlers.broadcasts.cli import add_parser as add_broadcast_parser

    add_broadcast_parser(sub)  # `baomi broadcast send`
    # --- end broadcasts ---

    from bot.console import add_console_parser

    add_console_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]] = args.func
    try:
        settings = Settings.from_env()
        setup_logging(settings.log_level)
        return asyncio.run(func(settings, args))
    except ConfigError as exc:
        print(f"baomi: {exc}", file=sys.stderr)
        return 2
    except BankError as exc:  # the question bank is loaded when the bot starts and by `baomi export quiz`
        from bot.handlers.quiz.service import describe_problems

        lines = describe_problems(exc.problems, _texts(settings.timezone), CLI_LOCALE)
        say(settings, "bank", err=True, file=str(exc.path) if exc.path else "-", problems=lines)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
