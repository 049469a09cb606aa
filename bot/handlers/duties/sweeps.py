"""The recurring duties of heads and staff: semiannual education (article 15), the carrier inventory
(article 27), the October self-check (article 7). Each sweep asks what is due today, claims each reminder in the
sent-log and queues it; after downtime it catches up once, skipping reminders whose moment has passed."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from sqlalchemy import select

from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_many
from bot.core.shortcut import start_button
from bot.core.sweep import Sweep, SweepContext
from bot.db.models import SentLog
from bot.domain.schedule import (
    Period,
    applicable_step,
    due_date,
    half_year,
    half_year_kickoff,
    inventory_period,
    previous_half_year,
)
from bot.handlers.duties import service as duties
from bot.handlers.duties.selfcheck import checklist_labels
from bot.services import staff_queries

DUTY_EDUCATION = "education"
DUTY_INVENTORY = "inventory"
DUTY_SELF_CHECK = "selfcheck"
DUTY_RECTIFICATION = "rectify"


def render(ctx: SweepContext, name: str, **context: object) -> Reply:
    # Reminders go in Chinese: a person's locale is per message elsewhere, but sweeps reach thousands at once.
    return Reply(ctx.texts.render(name, "zh", **context))


class EducationSweep(Sweep):
    """Heads are reminded at the start of each half-year and 14 days before its end of the core and important
    staff still due; what remains overdue after the half-year is escalated to the officers."""

    name = DUTY_EDUCATION

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        today = ctx.local_now.date()
        period = half_year(today)
        kickoff = half_year_kickoff(period, ctx.policy.education_half_year_starts, ctx.calendar)
        final = ctx.calendar.previous_working_day(
            period.end - timedelta(days=ctx.policy.education_second_reminder_days)
        )
        sent = 0
        if today >= kickoff:
            step = "final" if today >= final else "start"
            sent += await self.remind_heads(ctx, period.label, step, period)
        sent += await self.escalate(ctx, previous_half_year(period))
        return sent

    async def remind_heads(self, ctx: SweepContext, label: str, step: str, period: Period) -> int:
        # Each step is worked out once for the whole organisation: later ticks skip the set-based query.
        if not await ctx.claim(DUTY_EDUCATION, "organisation", label, step):
            return 0
        due = duties.by_department(await duties.education_due(ctx.session, period))
        if not due:
            return 0
        heads = await staff_queries.heads_by_department(ctx.session)
        names = await staff_queries.department_names(ctx.session)
        fallback = await staff_queries.officer_ids(ctx.session)
        told = [(head, department_id) for department_id in due for head in heads.get(department_id) or fallback]
        claimed = await ctx.claim_many(
            DUTY_EDUCATION, label, step, [f"staff:{head}:department:{department_id}" for head, department_id in told]
        )
        template = "duties/education_start" if step == "start" else "duties/education_final"
        messages = [
            (head, render(ctx, template, department=names[department_id], people=due[department_id], period=period))
            for head, department_id in told
            if f"staff:{head}:department:{department_id}" in claimed
        ]
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, f"{DUTY_EDUCATION}:{label}")
        return len(messages)

    async def escalate(self, ctx: SweepContext, period: Period) -> int:
        """Only for half-years whose heads were reminded: before the bot ran there is nothing to escalate."""
        reminded = await ctx.session.scalar(
            select(SentLog.id).where(SentLog.duty == DUTY_EDUCATION, SentLog.period == period.label).limit(1)
        )
        if reminded is None or not await ctx.claim(DUTY_EDUCATION, "organisation", period.label, "overdue"):
            return 0
        due = duties.by_department(await duties.education_due(ctx.session, period))
        if not due:
            return 0
        names = await staff_queries.department_names(ctx.session)
        overdue = [(names[d], people) for d, people in sorted(due.items(), key=lambda item: names[item[0]])]
        messages = [
            (officer, render(ctx, "duties/education_overdue", period=period, departments=overdue))
            for officer in await staff_queries.officer_ids(ctx.session)
            if await ctx.claim(DUTY_EDUCATION, f"staff:{officer}", period.label, "overdue")
        ]
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, f"{DUTY_EDUCATION}:{period.label}")
        return len(messages)


class InventorySweep(Sweep):
    """Heads are reminded 30, 14, 7 and 1 days before the inventory deadline until their department confirms;
    after the deadline the officers get the list of departments not done, each working day until done."""

    name = DUTY_INVENTORY

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        sent = await self.discrepancies_overdue(ctx)
        today = ctx.local_now.date()
        label, nominal = inventory_period(ctx.policy.inventory_deadlines, today)
        deadline = due_date(nominal, ctx.calendar)
        missing = await duties.inventory_missing(ctx.session, label)
        if not missing:
            return sent
        if today <= deadline:
            return sent + await self.remind_heads(ctx, label, deadline, today, missing)
        return sent + await self.tell_officers(ctx, label, deadline, today, missing)

    async def discrepancies_overdue(self, ctx: SweepContext) -> int:
        """A discrepancy still open `inventory_discrepancy_days` after its report: the officers are reminded of it
        once (set-based: a quiet tick reads only what was not claimed yet)."""
        days = ctx.policy.inventory_discrepancy_days
        step = (DUTY_INVENTORY, "discrepancy", "overdue")
        found = await duties.open_discrepancies(ctx.session, ctx.now - timedelta(days=days), unclaimed=step)
        if not found:
            return 0
        claimed = await ctx.claim_many(DUTY_INVENTORY, "discrepancy", "overdue", [f"inventory:{d.id}" for d in found])
        items = [d for d in found if f"inventory:{d.id}" in claimed]
        if not items:
            return 0
        button = start_button(ctx.texts.render("inventory/btn_discrepancies", "zh"), "discrepancies")
        reply = Reply(ctx.texts.render("inventory/discrepancy_overdue", "zh", items=items, days=days), [[button]])
        messages = [(officer, reply) for officer in await staff_queries.officer_ids(ctx.session)]
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, f"{DUTY_INVENTORY}:discrepancy")
        return len(messages)

    async def remind_heads(
        self, ctx: SweepContext, label: str, deadline: date, today: date, missing: list[duties.DepartmentRef]
    ) -> int:
        days_left = (deadline - today).days
        step = applicable_step(days_left, ctx.policy.inventory_reminder_days)
        if step is None:
            return 0
        heads = await staff_queries.heads_by_department(ctx.session)
        fallback = await staff_queries.officer_ids(ctx.session)
        messages = []
        for department in missing:
            for head in heads.get(department.id) or fallback:
                if await ctx.claim(DUTY_INVENTORY, f"staff:{head}:department:{department.id}", label, f"d-{step}"):
                    reply = render(
                        ctx, "duties/inventory_reminder", department=department, deadline=deadline, days_left=days_left
                    )
                    messages.append((head, reply))
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, f"{DUTY_INVENTORY}:{label}")
        return len(messages)

    async def tell_officers(
        self, ctx: SweepContext, label: str, deadline: date, today: date, missing: list[duties.DepartmentRef]
    ) -> int:
        messages = [
            (officer, render(ctx, "duties/inventory_overdue", departments=missing, deadline=deadline))
            for officer in await staff_queries.officer_ids(ctx.session)
            if await ctx.claim(DUTY_INVENTORY, f"staff:{officer}", label, f"overdue-{today.isoformat()}")
        ]
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, f"{DUTY_INVENTORY}:{label}")
        return len(messages)


class SelfCheckSweep(Sweep):
    """From the first working day of October: heads and officers are reminded, and each person with a
    classified level is asked to do the individual self-check (once)."""

    name = DUTY_SELF_CHECK
    chunked = True

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        today = ctx.local_now.date()
        kickoff = ctx.calendar.next_working_day(date(today.year, ctx.policy.self_inspection_month, 1))
        if today < kickoff:
            return 0
        year = str(today.year)
        # Set-based: only people not asked yet are selected, so later ticks cost one empty query.
        people = await duties.self_check_missing(
            ctx.session, today.year, unasked=(DUTY_SELF_CHECK, year, "ask"), people=ctx.people
        )
        asked = await ctx.claim_many(DUTY_SELF_CHECK, year, "ask", [f"staff:{p.staff_id}" for p in people])
        ask = render(ctx, "duties/selfcheck_ask", year=today.year)
        messages = [(p.staff_id, ask) for p in people if f"staff:{p.staff_id}" in asked]
        organisers = set(await staff_queries.officer_ids(ctx.session, ctx.people)) | {
            h for hs in (await staff_queries.heads_by_department(ctx.session, ctx.people)).values() for h in hs
        }
        messages += [
            (staff_id, render(ctx, "duties/selfcheck_start", year=today.year))
            for staff_id in sorted(organisers)
            if await ctx.claim(DUTY_SELF_CHECK, f"staff:{staff_id}", year, "organise")
        ]
        messages += await self.remind_office(ctx, today)
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, f"{DUTY_SELF_CHECK}:{year}")
        return len(messages)

    async def remind_office(self, ctx: SweepContext, today: date) -> list[tuple[int, Reply]]:
        """The unit's own self-assessment (第七条 3. 每年10月开展保密自查自评) is the office's: the officers are asked
        with the individual self-check, and once more a week before the month ends (the working day on or before)
        while it is not done, so that it is done within the month."""
        month = ctx.policy.self_inspection_month
        final = ctx.calendar.previous_working_day(unit_check_month_end(today.year, month) - timedelta(days=7))
        step = "unit-final" if today >= final else "unit-ask"
        year = str(today.year)
        if await duties.unit_check_done(ctx.session, today.year):
            return []
        button = start_button(ctx.texts.render("duties/unitcheck_btn", "zh"), "unitcheck")
        template = "duties/unitcheck_final" if step == "unit-final" else "duties/unitcheck_ask"
        reply = Reply(ctx.texts.render(template, "zh", year=today.year, month=month), [[button]])
        # Each officer with the rest of their reminders (in their chunk of people, when the sweep runs in chunks).
        return [
            (officer, reply)
            for officer in await staff_queries.officer_ids(ctx.session, ctx.people)
            if await ctx.claim(DUTY_SELF_CHECK, f"staff:{officer}", year, step)
        ]


def unit_check_month_end(year: int, month: int) -> date:
    """The last day of the self-inspection month: the unit's self-assessment is done within it."""
    return date(year, month, calendar.monthrange(year, month)[1])


class RectificationSweep(Sweep):
    """A 整改 item past its due date and still open: its owner (the head; the office for the unit's own) and the
    office are told once, in working hours, each in one message listing what fell overdue (保密工作常态化工作制度
    第十五条: 发现问题及时整改)."""

    name = DUTY_RECTIFICATION

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        today = ctx.local_now.date()
        # Set-based: only items not claimed yet are read, so a quiet tick reads nothing.
        overdue = await duties.overdue_items(ctx.session, today, unclaimed=(DUTY_RECTIFICATION, "due", "overdue"))
        if not overdue:
            return 0
        claimed = await ctx.claim_many(DUTY_RECTIFICATION, "due", "overdue", [f"rectification:{i.id}" for i in overdue])
        items = [i for i in overdue if f"rectification:{i.id}" in claimed]
        officers = set(await staff_queries.officer_ids(ctx.session))
        recipients: dict[int, list[duties.RectificationInfo]] = {officer: list(items) for officer in officers}
        for item in items:
            if item.owner_id is not None and item.owner_id not in officers:
                recipients.setdefault(item.owner_id, []).append(item)
        labels = checklist_labels()
        button = start_button(ctx.texts.render("duties/rectify_btn", "zh"), "rectify")
        messages = [
            (
                staff_id,
                Reply(
                    ctx.texts.render(
                        "duties/rectify_overdue", "zh", items=owned, labels=labels, office=staff_id in officers
                    ),
                    [[button]],
                ),
            )
            for staff_id, owned in sorted(recipients.items())
            if owned
        ]
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, DUTY_RECTIFICATION)
        return len(messages)
