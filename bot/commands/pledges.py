"""`baomi pledge pdf`, `baomi depart`, `baomi audit verify` and `baomi export pledges`."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, timedelta
from pathlib import Path

from bot.cli import _ready
from bot.clock import SystemClock
from bot.config import ConfigError, Settings
from bot.domain.pledges import PledgeKind
from bot.handlers.base import Priority, Reply
from bot.outbox_rows import send_to_staff
from bot.services import audit, people, pledge_documents, pledges
from bot.services.pledge_catalog import load_catalog
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
        print(f"没有工号为 {args.employee_id} 的人员")
        return 1
    if made is None:
        which = f"编号为 {args.record} 的" if args.record else ""
        print(f"{person.name}（{person.employee_id}）没有{which}已签署的承诺书记录")
        return 1
    data, receipt = made
    await asyncio.to_thread(out.write_bytes, data)
    print(f"已生成 {person.name} 的承诺书（记录编号 {receipt.record_id}，记录哈希 {receipt.hash}）: {out}")
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
                print(f"没有工号为 {args.employee_id} 的在岗人员")
                return 1
            if await pledges.open_departure(session, person.id) is not None:
                print(f"{person.name}（{person.employee_id}）的离岗已登记，正在等待其签署离岗保密承诺书")
                return 1
            officer = await people.by_employee_id(session, args.by) if args.by else None
            if args.by and officer is None:
                print(f"没有工号为 {args.by} 的人员（--by）")
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
    period = f"，脱密期 {departure.months} 个月至 {departure.ends_on}" if departure.ends_on else ""
    print(f"已登记 {person.name}（{person.employee_id}）离岗，批准日期 {approved}{period}")
    if reached:
        print(f"已通过保密助手请其在 {due} 前签署离岗保密承诺书")
    else:
        print("此人未绑定保密助手：请线下组织签署离岗保密承诺书，或为其发放邀请码")
    return 0


async def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Walks the audit log and the pledge records; names the first broken link of each chain."""
    db = await _ready(settings)
    try:
        async with db.sessions() as session:
            reports = [("audit_log", await audit.verify(session)), ("pledge_record", await pledges.verify(session))]
    finally:
        await db.dispose()
    broken = False
    for table, report in reports:
        if report.broken_at is None:
            print(f"{table}: 完好，共 {report.checked} 条记录")
        else:
            broken = True
            print(f"{table}: 第 {report.broken_at} 条记录链断裂（{report.reason}），之前 {report.checked} 条完好")
    return 1 if broken else 0


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
    print(f"已导出 {args.year} 年度保密承诺书签署情况 {count} 行到 {out}")
    return 0
