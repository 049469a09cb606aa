"""Declassification countdowns: officers, and the person while still bound, are reminded 30, 7 and 1 days
before a period ends (with what applies during it), and told when it has ended."""

from __future__ import annotations

from datetime import timedelta

from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_many
from bot.core.sweep import Sweep, SweepContext
from bot.domain.schedule import applicable_step
from bot.handlers.departures import service as countdowns
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
