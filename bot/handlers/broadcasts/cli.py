"""`baomi broadcast send`: a notice from the command line, delivered by the running bot, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.config import ConfigError
from bot.core.cli import CliEnv
from bot.db.session import Database
from bot.domain.guard import check_text
from bot.domain.levels import Role
from bot.handlers.broadcasts import service as broadcasts
from bot.handlers.broadcasts.flows import notice_text, queue_notices
from bot.handlers.broadcasts.rules import ACK_DAY_CHOICES, MAX_TEXT, AudienceError, ack_deadline, bar, parse_audience
from bot.services import audit, people
from bot.texts import Texts

POLL_SECONDS = 0.5


async def broadcast_send(env: CliEnv, args: argparse.Namespace) -> int:
    """Shows the preview; with --yes queues the notice for the running bot and follows its delivery."""
    path = Path(args.text_file)
    try:
        text = (await asyncio.to_thread(path.read_text, encoding="utf-8")).strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if not text or len(text) > MAX_TEXT:
        raise ConfigError(f"the notice must be 1 to {MAX_TEXT} characters long ({len(text)} in {path})")
    if args.ack_days is not None and args.ack_days not in ACK_DAY_CHOICES:
        raise ConfigError(f"--ack-days must be one of {', '.join(map(str, ACK_DAY_CHOICES))}")
    try:
        spec = parse_audience(args.audience)
    except AudienceError as exc:
        raise ConfigError(f"--audience: {exc}") from exc
    settings, texts = env.settings, env.texts
    if (category := check_text(text, extra_terms=settings.policy.guard_extra_terms).category) is not None:
        env.say("guard/refused", err=True, category=category.value)
        return 1
    now = env.now()
    deadline = None
    if args.ack_days:
        local_today = now.astimezone(settings.timezone).date()
        deadline = ack_deadline(local_today, args.ack_days, settings.policy.working_hours_end, settings.timezone)
    async with env.database() as db:
        async with db.transaction() as session:
            author = await people.by_employee_id(session, args.author)
            if author is None or not author.active or not author.has(Role.OFFICER):
                raise ConfigError(f"--as {args.author}: not an active officer (保密员)")
            audience, unknown = await broadcasts.resolve(session, spec)
            if unknown:
                raise ConfigError(f"--audience: no department named {', '.join(unknown)}")
            count = await broadcasts.count_audience(session, audience)
            notice = notice_text(texts, "zh", text, author.name, now, deadline)
            env.say("broadcast/cli_preview", count=count, deadline=deadline, notice=notice, confirmed=args.yes)
            if not args.yes or count.recipients == 0:
                return 0
            created = await broadcasts.create(session, now, author.id, text, audience, deadline)
            info = await broadcasts.info(session, created.broadcast_id)
            assert info is not None
            source = broadcasts.source_of(info.id)
            await queue_notices(session, now, texts, info, author.name, created.readers, source)
            await audit.record(
                session, now, author.id, "broadcast.sent", source, recipients=created.recipients, via="cli"
            )
        env.say("broadcast/cli_queued", id=info.id, recipients=created.recipients)
        if not args.no_wait:
            await watch(db, texts, info.id, sys.stdout)
    return 0


async def watch(db: Database, texts: Texts, broadcast_id: int, out: TextIO, every: float = POLL_SECONDS) -> None:
    """Redraws one progress line until nothing of the broadcast is left to send."""
    last = ""
    while True:
        async with db.sessions() as session:
            standing = await broadcasts.standing(session, broadcast_id)
        assert standing is not None
        line = texts.render("broadcast/cli_progress", bar=bar(standing.tally.done_fraction), tally=standing.tally)
        if line != last:
            out.write("\r" + line)
            out.flush()
            last = line
        if standing.tally.finished:
            out.write("\n")
            return
        await asyncio.sleep(every)


def send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-file", required=True, help="UTF-8 text of the notice")
    parser.add_argument(
        "--audience",
        required=True,
        help="`all`, or e.g. `department=办公室,考试院;level=core;role=head` (kinds narrow, values add up)",
    )
    parser.add_argument("--as", dest="author", required=True, metavar="EMPLOYEE_ID", help="the officer sending it")
    parser.add_argument("--ack-days", type=int, help="require 已阅 within 1, 3 or 7 days")
    parser.add_argument("--yes", action="store_true", help="send it (without: only the preview)")
    parser.add_argument("--no-wait", action="store_true", help="do not follow the delivery")
