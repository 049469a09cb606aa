"""Declassification countdowns: officers, and the person while still bound, are reminded 30, 7 and 1 days
before a period ends (with what applies during it), and told when it has ended. A departure procedure's step
waiting `departure_step_days` working days reminds whoever it waits for, once."""

from __future__ import annotations

from datetime import timedelta

from bot.core.flow import Outgoing, Priority, Reply
from bot.core.outbox_rows import send_to_many
from bot.core.sweep import Sweep, SweepContext
from bot.domain.schedule import applicable_step
from bot.handlers.departures import notices, procedure
from bot.handlers.departures import service as countdowns
from bot.handlers.departures.rules import ProcedureStep
from bot.services import staff_queries

DUTY = "countdown"
ENDED_NOTICE_DAYS = 30  # an end older than this (e.g. before the bot ran) is not announced any more


class CountdownSweep(Sweep):
    name = DUTY

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        today = ctx.local_now.date()
        running = await countdowns.running(ctx.session, today, ended_since=today - timedelta(days=ENDED_NOTICE_DAYS))
        if not running:
            return 0
        office = list(await staff_queries.officer_ids(ctx.session))
        messages: list[tuple[int, Reply]] = []
        for c in running:
            if c.days_left < 0:
                step, template = "ended", "countdowns/ended"
            else:
                found = applicable_step(c.days_left, ctx.policy.declassification_reminder_days)
                if found is None:
                    continue
                step, template = f"d-{found}", "countdowns/reminder"
            if not await ctx.claim(DUTY, f"departure:{c.departure_id}", c.ends_on.isoformat(), step):
                continue
            for staff_id in {*office, c.staff_id}:
                own = staff_id == c.staff_id
                reply = Reply(ctx.texts.render(template, "zh", countdown=c, own=own))
                messages.append((staff_id, reply))
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, DUTY)
        return len(messages)


STEP_DUTY = "departure_step"


class DepartureStepSweep(Sweep):
    """One gentle reminder per step of a procedure under way, in working hours, once it has waited
    `departure_step_days` working days (after the day it became possible): the person for the handover list and
    the pledge (a refused pledge is the office's to talk about, not a reminder's), the head for the receipt and the
    education, the office for the approval."""

    name = STEP_DUTY

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        today = ctx.local_now.date()
        limit = ctx.policy.departure_step_days
        outgoing: list[Outgoing] = []
        for p in await procedure.in_progress(ctx.session):
            for step, since in p.waiting_since.items():
                start = since.astimezone(ctx.timezone).date() + timedelta(days=1)
                waited = max(0, ctx.calendar.working_days_between(start, today))
                if waited < limit or not await ctx.claim(STEP_DUTY, f"departure:{p.id}", "steps", step.value):
                    continue
                if step is ProcedureStep.HANDOVER:
                    recipients, button = [p.staff_id], ("open", notices.LEAVE_COMMAND)
                elif step is ProcedureStep.PLEDGE:
                    recipients, button = [p.staff_id], ("sign", notices.PLEDGE_COMMAND)
                elif step is ProcedureStep.APPROVAL:
                    recipients, button = await notices.office_of(ctx.session, p), ("office", notices.OFFICE_COMMAND)
                else:
                    recipients, button = await notices.heads_of(ctx.session, p)
                outgoing += await notices.to(
                    ctx.session, ctx.texts, recipients, "depart/reminder", button, p=p, step=step.value, days=waited
                )
        messages = [(out.staff_id, out.reply) for out in outgoing]
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, notices.SOURCE)
        return len(messages)
