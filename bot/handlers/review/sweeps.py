"""The review's clock as a sweep: a stage waiting longer than the policy's limit (Policy.review_limit_days working
days, by the working-day calendar) reminds its reviewers once; still waiting `review_escalate_days` later, it is
escalated once — to the secrecy office for a head's or a leader's stage, to the 分管领导 for the office's — with
the policy's contacts. Both are claimed in the sent-log per request, round and stage, in working hours only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

from bot.core.flow import Outgoing, Priority
from bot.core.outbox_rows import send_to_many
from bot.core.sweep import Sweep, SweepContext
from bot.handlers.review import notices
from bot.handlers.review import service as review
from bot.handlers.review.rules import working_days_waited
from bot.handlers.review.service import RequestInfo

DUTY = "review"
PERIOD = "clock"  # the subject names the request, its round and its stage


class ReviewClockSweep(Sweep):
    name = "review_clock"

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        policy = ctx.policy
        today = ctx.local_now.date()
        # Waiting N working days takes at least N calendar days after the day of arrival: older stages only.
        cutoff = datetime.combine(today - timedelta(days=policy.review_limit_days), time(), tzinfo=ctx.timezone)
        overdue: dict[str, tuple[RequestInfo, int]] = {}
        for request in await review.waiting(ctx.session, cutoff):
            waited = working_days_waited(request.stage_since.astimezone(ctx.timezone).date(), today, ctx.calendar)
            if waited >= policy.review_limit_days:
                overdue[f"request:{request.id}:r{request.round}:{request.stage}"] = (request, waited)
        if not overdue:
            return 0
        # One claim per request, round and stage for each step: a few statements a tick however many are waiting.
        done = 0
        for key in sorted(await ctx.claim_many(DUTY, PERIOD, "nudge", list(overdue)), key=_order(overdue)):
            request, waited = overdue[key]
            await send(ctx, await notices.to_reviewers(ctx.session, ctx.texts, policy, request, waited=waited))
            done += 1
        late = [
            key
            for key, (_, waited) in overdue.items()
            if waited >= policy.review_limit_days + policy.review_escalate_days
        ]
        for key in sorted(await ctx.claim_many(DUTY, PERIOD, "escalate", late), key=_order(overdue)):
            request, waited = overdue[key]
            await send(ctx, await notices.escalation(ctx.session, ctx.texts, policy, request, waited))
            done += 1
        return done


def _order(overdue: dict[str, tuple[RequestInfo, int]]) -> Callable[[str], int]:
    """The longest waiting first, as `waiting` returned them."""
    rank = {key: i for i, key in enumerate(overdue)}
    return lambda key: rank[key]


async def send(ctx: SweepContext, outgoing: list[Outgoing]) -> None:
    messages = [(out.staff_id, out.reply) for out in outgoing]
    await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, notices.SOURCE)
