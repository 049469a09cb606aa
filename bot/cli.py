"""`baomi`: the command line. Each subcommand is one unit of work with its own transaction.

The capabilities add theirs with `bot.cli(...)` in their `register` (bot/core/capability.py); the ones that run the
bot as a whole (run, serve, console, db, jobs, invites) are added below in the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.clock import Clock, SystemClock
from bot.config import DEFAULT_TIMEZONE, ConfigError, Settings, scrub
from bot.core.capability import CliCommand, Wiring
from bot.core.cli import CLI_LOCALE, CliEnv, day_option, write_private
from bot.db.migrate import downgrade, upgrade
from bot.db.session import Database
from bot.handlers.quiz.bank import BankError
from bot.services import sheets
from bot.texts import Texts

if TYPE_CHECKING:
    from bot.jobs.runner import SweepRunner

log = logging.getLogger("baomi")


class Scrubbed(logging.Formatter):
    """Every line logged, and its traceback, without a password or token it may quote (a library's error message
    holding a URL). It formats: the record itself is left as it was for any other handler."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(Scrubbed("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


# --- the bot ----------------------------------------------------------------------------------------------------
def _long_lived() -> None:
    """What the bot has imported and built lives as long as the process: the cyclic collector no longer walks it.
    Its full collections walked the whole heap, the event loop stopped meanwhile (measured in bench/updates.py: 70 to
    100 ms each, four in five seconds of work). Objects still free themselves when nothing refers to them."""
    gc.collect()
    gc.freeze()


async def run(env: CliEnv, args: argparse.Namespace) -> int:
    """Long-polls Telegram; runs the engine, the dispatcher and the sweeps until SIGINT or SIGTERM, or until one of
    them cannot go on (exit 1, or 2 with the line to act on). With --health-port, /healthz on that port."""
    from bot.app import build_app
    from bot.server import serve as serve_http

    env.settings.require_token()
    app = build_app(replace(env.settings, telegram_delete_webhook=args.delete_webhook), env.clock)
    _long_lived()
    stop = asyncio.Event()
    _stop_on_signals(stop)
    if args.health_port is not None:
        return await serve_http(app, args.health_host, args.health_port, stop, health_only=True)
    try:
        await app.start(stop)
        await stop.wait()
        log.info("stopping")
    finally:
        await app.stop()
    return app.supervisor.outcome()


def run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--health-port", type=int, help="serve GET /healthz on this port (as `baomi serve` does)")
    parser.add_argument("--health-host", default="127.0.0.1", help="address for --health-port (default 127.0.0.1)")
    webhook_argument(parser)


async def serve(env: CliEnv, args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.server import serve as serve_http

    app = build_app(replace(env.settings, telegram_delete_webhook=args.delete_webhook), env.clock, serve=True)
    _long_lived()
    stop = asyncio.Event()
    _stop_on_signals(stop)
    return await serve_http(app, args.host, args.port, stop)


def webhook_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delete-webhook",
        action="store_true",
        help="delete the Telegram webhook that `baomi serve` set, to poll instead (without it, a webhook stops this)",
    )


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    webhook_argument(parser)  # without a webhook URL `baomi serve` polls as `baomi run` does


async def db(env: CliEnv, args: argparse.Namespace) -> int:
    database = Database(env.settings.database_url)
    try:
        await database.check()
    finally:
        await database.dispose()
    if args.action == "upgrade":
        await upgrade(env.settings.database_url, args.revision or "heads")
    else:
        await downgrade(env.settings.database_url, args.revision or "base")
    env.say("cli/database", action=args.action)
    return 0


def db_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["upgrade", "downgrade"])
    parser.add_argument("revision", nargs="?")


async def invites(env: CliEnv, args: argparse.Namespace) -> int:
    """Invitation codes for everyone not bound yet, with Telegram deep links when a token is set."""
    from bot.channels.telegram.channel import bot_username
    from bot.services.invitations import issue_for_unbound

    settings = env.settings
    username = await bot_username(settings) if settings.telegram_token else None
    async with env.database() as database, database.transaction() as session:
        issued = await issue_for_unbound(session, env.now(), settings.policy.invitation_valid_days)
    out = Path(args.out)
    rows = [["employee_id", "name", "code", "link"]]
    for inv in issued:
        link = f"https://t.me/{username}?start={inv.code}" if username else ""
        rows.append([inv.employee_id, inv.name, inv.code, link])
    await write_private(out, sheets.csv_bytes(rows))  # live codes: for the operator's eyes only
    env.say("cli/invites", count=len(issued), out=out, linked=bool(username))
    return 0


def invites_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="CSV file to write")


# --- the sweeps -------------------------------------------------------------------------------------------------
def sweep_runner(env: CliEnv, database: Database) -> SweepRunner:
    """The bot's sweeps on the command line's clock, queuing into the outbox for the running bot to send."""
    from bot.app import wire
    from bot.jobs.runner import SweepRunner

    settings = env.settings
    return SweepRunner(
        database, env.clock, settings.policy, Texts(settings.timezone), settings.timezone, wire().sweeps, lambda: None
    )


async def jobs_run(env: CliEnv, args: argparse.Namespace) -> int:
    """Whatever the scheduler would have queued up to that instant, queued once (the bot sends it)."""
    at = env.instant(args.at) if args.at else env.now()
    async with env.database() as database:
        done = await sweep_runner(env, database).run_all(at)
    env.say("cli/jobs_run", done=done)
    return 1 if any(count < 0 for count in done.values()) else 0


def jobs_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", help="ISO date-time (default: now), read in BAOMI_TIMEZONE without a zone")


async def jobs_preview(env: CliEnv, args: argparse.Namespace) -> int:
    """What the sweeps would send, day by day, to whom — sending and keeping nothing."""
    start, end = day_option(args.start, "--from"), day_option(args.end, "--to")
    async with env.database() as database:
        planned = await sweep_runner(env, database).preview(start, end)
    for item in planned:
        first_line = item.text.splitlines()[0] if item.text else ""
        print(f"{item.day.isoformat()}  {item.duty:<10} {item.name:<8} {first_line}")
    env.say("cli/jobs_preview_total", count=len(planned))
    return 0


def jobs_preview_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")


def register(bot: Wiring) -> None:
    """The subcommands that run or maintain the bot as a whole."""
    from bot.channels.wecom.menu import menu_command
    from bot.console import console, console_arguments

    bot.cli("run", run, "apply migrations and run the bot (Telegram long polling)", run_arguments)
    bot.cli("serve", serve, "run the bot behind one HTTP server: WeCom callbacks, Telegram webhook", serve_arguments)
    bot.cli(
        "console", console, "chat with the bot in this terminal through a built-in fake Telegram", console_arguments
    )
    bot.cli("db", db, "database migrations", db_arguments)
    bot.cli("invites", invites, "issue invitation codes for everyone not bound yet", invites_arguments)
    bot.cli_group("wecom", "the WeCom (企业微信) application")
    bot.cli("wecom menu", menu_command, "set the WeCom application's custom menu (我的待办 / 办理 / 帮助)")
    bot.cli_group("jobs", "scheduled duties")
    bot.cli("jobs run", jobs_run, "queue once whatever is due up to an instant", jobs_run_arguments)
    bot.cli(
        "jobs preview", jobs_preview, "print what would be sent, day by day, without sending", jobs_preview_arguments
    )


# --- the parser -------------------------------------------------------------------------------------------------
def commands() -> Wiring:
    from bot.app import wire

    bot = Wiring()
    register(bot)
    capabilities = wire()
    bot.commands += capabilities.commands
    bot.groups.update(capabilities.groups)
    return bot


def build_parser(bot: Wiring) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baomi", description="保密助手 — confidentiality work of an education bureau")
    subparsers: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {
        (): parser.add_subparsers(dest="command", required=True)
    }
    for command in bot.commands:
        parent: tuple[str, ...] = ()
        for depth, name in enumerate(command.path[:-1], 1):
            group = command.path[:depth]
            if group not in subparsers:
                group_parser = subparsers[parent].add_parser(name, help=bot.groups.get(name))
                subparsers[group] = group_parser.add_subparsers(dest=f"{'_'.join(group)}_command", required=True)
            parent = group
        sub = subparsers[parent].add_parser(command.path[-1], help=command.help)
        if command.arguments is not None:
            command.arguments(sub)
        sub.set_defaults(handler=command)
    return parser


async def run_command(settings: Settings, argv: list[str], clock: Clock | None = None) -> int:
    """Parse `argv` and run the subcommand (also how the tests call the command line)."""
    args = build_parser(commands()).parse_args(argv)
    handler: CliCommand = args.handler
    return await handler.run(CliEnv(settings, clock or SystemClock()), args)


async def _run(handler: CliCommand, env: CliEnv, args: argparse.Namespace) -> int:
    return await handler.run(env, args)


def main(argv: list[str] | None = None) -> int:
    settings: Settings | None = None
    try:
        args = build_parser(commands()).parse_args(argv)  # --help and usage errors need no settings
        settings = Settings.from_env()
        setup_logging(settings.log_level)
        handler: CliCommand = args.handler
        return asyncio.run(_run(handler, CliEnv(settings), args))
    except ConfigError as exc:
        print(f"baomi: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except BankError as exc:  # the question bank is loaded when the capabilities register
        from bot.handlers.quiz.service import describe_problems

        texts = Texts(settings.timezone if settings else ZoneInfo(DEFAULT_TIMEZONE))
        lines = describe_problems(exc.problems, texts, CLI_LOCALE)
        file = str(exc.path) if exc.path else "-"
        print(texts.render("cli/bank", CLI_LOCALE, file=file, problems=lines), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
