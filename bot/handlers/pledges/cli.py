"""`baomi pledge pdf`, `baomi depart`, `baomi audit verify` and `baomi export pledges`."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, timedelta
from pathlib import Path

from bot.cli import _ready, say
from bot.clock import SystemClock
from bot.config import ConfigError, Settings
from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_staff
from bot.handlers.pledges import documents as pledge_documents
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.rules import PledgeKind
from bot.services import audit, people
from bot.texts import Texts


def _word(texts: Texts) -> pledge_documents.Word:
    return lambda key: texts.render("pledge/word", "zh", key=key)


async def cmd_pledge_pdf(settings: Settings, args: argparse.Namespace) -> int:
    """The printable copy of a person's signed pledge (the latest, or --record N)."""
    out = Path(args.out)
    texts = Texts(settings.timezone)
    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            person = await people.by_employee_id(session, args.employee_id)
            made = None
            if person is not None:
                made = await pledge_documents.pledge_pdf(
                    session, person.id, _word(texts), settings.timezone, args.record
                )
    finally:
        await db.dispose()
    if person is None:
        say(settings, "no_person", employee_id=args.employee_id, active=False, option=None)
        return 1
    if made is None:
        say(settings, "pledge_pdf", person=person, receipt=None, record=args.record, out=out)
        return 1
    data, receipt = made
    await asyncio.to_thread(out.write_bytes, data)
    say(settings, "pledge_pdf", person=person, receipt=receipt, record=args.record, out=out)
    return 0


async def cmd_depart(settings: Settings, args: argparse.Namespace) -> int:
    """Records an approved departure and asks the person (through the running bot) for the departure pledge."""
    try:
        approved = date.fromisoformat(args.date)
    except ValueError as exc:
        raise ConfigError(f"--date must be YYYY-MM-DD: {args.date!r}") from exc
    now = SystemClock().now()
    today = now.astimezone(settings.timezone).date()
    if approved > today:
        raise ConfigError(f"--date {approved} is in the future: give the day the unit approved the departure")
    texts = Texts(settings.timezone)
    policy = settings.policy
    db = await _ready(settings)
    try:
        async with db.transaction() as session:
            person = await people.by_employee_id(session, args.employee_id)
            if person is None or not person.active:
                say(settings, "no_person", employee_id=args.employee_id, active=True, option=None)
                return 1
            if await pledges.open_departure(session, person.id) is not None:
                say(settings, "depart_open", person=person)
                return 1
            officer = await people.by_employee_id(session, args.by) if args.by else None
            if args.by and officer is None:
                say(settings, "no_person", employee_id=args.by, active=False, option="--by")
                return 1
            due = today + timedelta(days=policy.pledge_due_days)
            departure = await pledges.record_departure(
                session,
                now,
                person.id,
                person.level,
                approved,
                pledges.months_for(policy, person.level),
                due,
                officer.id if officer else None,
            )
            text = texts.render(
                "pledge/requested",
                person.locale,
                kind=PledgeKind.DEPARTURE.value,
                task=None,
                due=due,
                departure=departure,
            )
            reached = await send_to_staff(session, now, person.id, Reply(text), Priority.REMINDER, "pledge:departure")
    finally:
        await db.dispose()
    say(settings, "departed", person=person, approved=approved, departure=departure, reached=reached, due=due)
    return 0


async def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Walks the audit log and the pledge records; names the first broken link of each chain."""
    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            reports = [("audit_log", await audit.verify(session)), ("pledge_record", await pledges.verify(session))]
    finally:
        await db.dispose()
    say(settings, "chains", reports=reports)
    return 1 if any(report.broken_at is not None for _, report in reports) else 0


async def cmd_export_pledges(settings: Settings, args: argparse.Namespace) -> int:
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv"):
        raise ConfigError(f"--out must end in .xlsx or .csv: {out}")
    texts = Texts(settings.timezone)
    book = load_catalog()
    today = SystemClock().now().astimezone(settings.timezone).date()
    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            data, count = await pledge_documents.export(
                session, args.year, today, settings.timezone, settings.policy, book.catalog, _word(texts), fmt
            )
    finally:
        await db.dispose()
    await asyncio.to_thread(out.write_bytes, data)
    say(settings, "exported", doc="pledges", year=args.year, count=count, out=out)
    return 0
