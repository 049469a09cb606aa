"""The review's clock as a sweep: a stage waiting longer than the policy's limit (Policy.review_limit_days working
days, by the working-day calendar) reminds its reviewers once; still waiting `review_escalate_days` later, it is
escalated once — to the secrecy office for a head's or a leader's stage, to the 分管领导 for the office's — with
the policy's contacts. Both are claimed in the sent-log per request, round and stage, in working hours only."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bot.core.flow import Outgoing, Priority
from bot.core.outbox_rows import send_to_many
from bot.core.sweep import Sweep, SweepContext
from bot.handlers.review import notices
from bot.handlers.review import service as review
from bot.handlers.review.rules import working_days_waited

DUTY = "review"
PERIOD = "clock"  # the subject (service.stage_subject) names the request, its round and its stage


class ReviewClockSweep(Sweep):
    name = "review_clock"

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        policy = ctx.policy
        today = ctx.local_now.date()
        remind, escalate = policy.review_limit_days, policy.review_limit_days + policy.review_escalate_days
        # Waiting N working days takes at least N calendar days after the day of arrival: older stages only, and
        # of those only the ones the sent-log has not seen for the step (a quiet tick reads nothing).
        remind_before, escalate_before = (
            datetime.combine(today - timedelta(days=days), time(), tzinfo=ctx.timezone) for days in (remind, escalate)
        )
        done = 0
        for request in await review.waiting(ctx.session, remind_before, escalate_before, DUTY, PERIOD):
            waited = working_days_waited(request.stage_since.astimezone(ctx.timezone).date(), today, ctx.calendar)
            subject = review.stage_subject(request)
            if waited >= remind and await ctx.claim(DUTY, subject, PERIOD, "nudge"):
                await send(ctx, await notices.to_reviewers(ctx.session, ctx.texts, policy, request, waited=waited))
                done += 1
            if waited >= escalate and await ctx.claim(DUTY, subject, PERIOD, "escalate"):
                await send(ctx, await notices.escalation(ctx.session, ctx.texts, policy, request, waited))
                done += 1
        return done


async def send(ctx: SweepContext, outgoing: list[Outgoing]) -> None:
    messages = [(out.staff_id, out.reply) for out in outgoing]
    await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, notices.SOURCE)
