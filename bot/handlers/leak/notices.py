"""What the leak capability says to officers and reporters outside their own conversation: the alert with
受理 / 查看, reminders of the statutory clocks, status changes and relayed messages. Each message is rendered in
its recipient's language. Used by the /report and /cases flows, their standalone buttons and the sweeps.

`open_case` is the entry for other capabilities (the carrier inventory opens a "carrier missing" case)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.core.flow import Button, Outgoing, Priority, Reply
from bot.core.outbox_rows import add, message_payload, send_to_staff
from bot.db.models import OutboxMessage
from bot.domain.levels import Role
from bot.handlers.leak import rules
from bot.handlers.leak import service as leak
from bot.handlers.leak.service import CaseInfo, Report
from bot.services import people, staff_queries
from bot.texts import Texts

OFFICER_ACTION = "lka"  # 受理 / 查看 / 回复 on messages to officers
REPORTER_ACTION = "lkr"  # 回复 on messages relayed to a reporter
SOURCE = "leak"


def label(texts: Texts, locale: str, key: str) -> str:
    return texts.render("report/label", locale, key=key)


def summary(texts: Texts, locale: str, report: Report, case: CaseInfo | None = None) -> str:
    """The report's metadata; with `case`, also who reported it (unless withheld) for officers."""

    def lb(key: str) -> str:
        return label(texts, locale, key)

    return texts.render(
        "report/summary",
        locale,
        r=report,
        kind=lb(f"kind.{report.kind}"),
        whose=lb(f"whose.{report.whose}"),
        carrier=lb(f"carrier.{report.carrier}"),
        level=lb(f"level.{report.level}"),
        measures=[lb(f"measure.{m}") for m in report.measures],
        case=case,
    )


def alert_source(case_id: int) -> str:
    """The outbox source of a case's alert cards: a repeat edits them in place."""
    return f"{SOURCE}-alert:{case_id}"


def alert_reply(texts: Texts, locale: str, case: CaseInfo, waited: int) -> Reply:
    """The alert card: the report, its clocks and, once it has waited, for how long nobody accepted it."""
    text = texts.render(
        "cases/alert", locale, case=case, waited=waited, summary=summary(texts, locale, case.report, case)
    )
    buttons = [
        [
            Button(label(texts, locale, "btn.ack"), "ack", (str(case.id),), target=OFFICER_ACTION),
            Button(label(texts, locale, "btn.view"), "view", (str(case.id),), target=OFFICER_ACTION),
        ]
    ]
    return Reply(text, buttons)


async def alerts(
    session: AsyncSession, texts: Texts, case: CaseInfo, recipients: Sequence[int], waited: int = 0
) -> list[Outgoing]:
    """The alert card to each of `recipients` (every officer at first; later the escalation contacts, then the
    leadership), each in their language."""
    locales = await people.locales(session, list(recipients))
    return [
        Outgoing(
            staff_id,
            alert_reply(texts, locales.get(staff_id, "zh"), case, waited),
            Priority.ALERT,
            alert_source(case.id),
        )
        for staff_id in recipients
    ]


async def escalation_ids(session: AsyncSession, policy: Policy) -> list[int]:
    """The next to be told when no officer accepts: the policy's escalation contacts who are not officers."""
    officers = set(await staff_queries.officer_ids(session))
    return [s for s in await leak.staff_ids_by_employee_id(session, policy.escalation_contacts) if s not in officers]


async def leadership_ids(session: AsyncSession, policy: Policy) -> list[int]:
    """Then the leadership (分管领导), who are neither officers nor escalation contacts."""
    told = set(await staff_queries.officer_ids(session)) | set(await escalation_ids(session, policy))
    return [s for s in await staff_queries.role_ids(session, Role.LEADER) if s not in told]


async def refresh_alerts(session: AsyncSession, now: datetime, texts: Texts, case: CaseInfo, waited: int) -> int:
    """Edits every alert card of the case already delivered, in place, to say how long it has waited: a repeat
    that does not pile up new messages. A channel that cannot edit (WeCom) leaves the card as it is."""
    rows = (
        await session.execute(
            select(OutboxMessage.channel, OutboxMessage.chat_id, OutboxMessage.staff_id, OutboxMessage.message_id)
            .where(
                OutboxMessage.source == alert_source(case.id),
                OutboxMessage.op == "send",
                OutboxMessage.status == "sent",
                OutboxMessage.message_id.is_not(None),
            )
            .order_by(OutboxMessage.id)
        )
    ).all()
    locales = await people.locales(session, sorted({r.staff_id for r in rows if r.staff_id is not None}))
    for channel, chat_id, staff_id, message_id in rows:
        reply = alert_reply(texts, locales.get(staff_id, "zh") if staff_id else "zh", case, waited)
        payload = {**message_payload(reply), "message_id": message_id, "refresh": True}
        add(
            session,
            now,
            channel=channel,
            chat_id=chat_id,
            op="edit",
            payload=payload,
            priority=Priority.ALERT,
            staff_id=staff_id,
            source=f"{alert_source(case.id)}:edit",
        )
    return len(rows)


async def to_leadership(session: AsyncSession, texts: Texts, case: CaseInfo) -> list[Outgoing]:
    """The bureau's leadership hears of a report as the rules say, at once and for information: the 分管领导 of
    every one (第二十七条: 发现问题及时报告保密办及分管领导); for state secrets also the 保密工作领导小组 and the
    第一责任人 (保密工作制度 二、4: 发现泄密事件 … 及时向局保密工作领导小组报告). Officers have the alert card already
    (and an unaccepted card reaches the leadership later: leadership_ids); the reporter is never named here."""
    roles = (Role.LEADER, Role.GROUP, Role.CHIEF) if rules.is_state_secret(case.report.level) else (Role.LEADER,)
    officers = set(await staff_queries.officer_ids(session))
    recipients = [s for s in await staff_queries.role_ids(session, *roles) if s not in officers]
    locales = await people.locales(session, recipients)
    out = []
    for staff_id in recipients:
        locale = locales.get(staff_id, "zh")
        text = texts.render("cases/leadership_alert", locale, case=case, summary=summary(texts, locale, case.report))
        out.append(Outgoing(staff_id, Reply(text), Priority.ALERT, SOURCE))
    return out


async def to_officers(
    session: AsyncSession,
    texts: Texts,
    case: CaseInfo,
    template: str,
    *,
    reply_button: bool = False,
    priority: Priority = Priority.ALERT,
    **context: Any,
) -> list[Outgoing]:
    """A notice about a case to every officer, with 查看 (and 回复 for a reporter's message)."""
    recipients = list(await staff_queries.officer_ids(session))
    locales = await people.locales(session, recipients)
    out = []
    for staff_id in recipients:
        locale = locales.get(staff_id, "zh")
        row = [Button(label(texts, locale, "btn.view"), "view", (str(case.id),), target=OFFICER_ACTION)]
        if reply_button:
            row.insert(0, Button(label(texts, locale, "btn.reply"), "relay", (str(case.id),), target=OFFICER_ACTION))
        text = texts.render(template, locale, case=case, **context)
        out.append(Outgoing(staff_id, Reply(text, [row]), priority, SOURCE))
    return out


async def to_reporter(
    session: AsyncSession, texts: Texts, case: CaseInfo, template: str, *, reply_button: bool = False, **context: Any
) -> list[Outgoing]:
    """A notice to whoever reported the case (officers never learn who receives it)."""
    reporter = await leak.reporter_of(session, case.id)
    if reporter is None:
        return []
    locale = (await people.locales(session, [reporter])).get(reporter, "zh")
    buttons = []
    if reply_button:
        buttons = [[Button(label(texts, locale, "btn.reply"), "reply", (str(case.id),), target=REPORTER_ACTION)]]
    text = texts.render(template, locale, case=case, **context)
    return [Outgoing(reporter, Reply(text, buttons), Priority.ALERT, SOURCE)]


async def status_changed(session: AsyncSession, texts: Texts, case_id: int, note: str | None) -> list[Outgoing]:
    """The reporter told of the case's status as it is now, with the officer's note (/cases and the console)."""
    case = await leak.get_case(session, case_id)
    assert case is not None
    statuses = {loc: label(texts, loc, f"status.{case.status}") for loc in ("zh", "en")}
    return await to_reporter(session, texts, case, "report/status_changed", statuses=statuses, note=note)


async def queue(session: AsyncSession, now: datetime, outgoing: list[Outgoing]) -> int:
    """Write messages straight to the outbox (sweeps and other capabilities; flows return them in a Step)."""
    written = 0
    for out in outgoing:
        written += await send_to_staff(session, now, out.staff_id, out.reply, out.priority, out.source)
    return written


async def open_case(
    session: AsyncSession, now: datetime, texts: Texts, policy: Policy, reporter_staff_id: int, report: Report
) -> CaseInfo:
    """Open a case from code (e.g. a department reports missing carriers) and alert every officer at once."""
    case = await leak.open_case(session, now, policy, texts.timezone, reporter_staff_id, report)
    officers = await alerts(session, texts, case, await staff_queries.officer_ids(session))
    await queue(session, now, officers + await to_leadership(session, texts, case))
    return case
