"""/countdowns: everyone in a declassification period, soonest end first; `/countdowns E102 9 原因` changes a
person's period within its legal range (audit-logged)."""

from __future__ import annotations

from typing import Any

from bot.core.events import FlowEvent
from bot.core.flow import OFFICERS, FlowContext, Reply, Step
from bot.core.guarding import refuse_marked
from bot.handlers.departures import service as countdowns

MAX_REASON = 50


class CountdownsFlow:
    name = "countdowns"
    prefix = "cd"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists the running periods, or changes one when given `EMPLOYEE_ID MONTHS REASON`."""
        today = ctx.now.astimezone(ctx.texts.timezone).date()
        parts = args.split(maxsplit=2)
        if not parts:
            return Step.done(Reply(ctx.t("countdowns/list", countdowns=await countdowns.running(ctx.session, today))))
        if len(parts) < 3 or not parts[1].isdigit() or len(parts[2]) > MAX_REASON:
            return Step.done(Reply(ctx.t("countdowns/usage", limit=MAX_REASON)))
        if refusal := refuse_marked(ctx, parts[2]):
            return Step.done(refusal)
        try:
            changed = await countdowns.change_period(
                ctx.session, ctx.now, today, ctx.person.id, parts[0], int(parts[1]), parts[2].strip()
            )
        except ValueError as exc:
            return Step.done(Reply(ctx.t("countdowns/out_of_range", problem=str(exc))))
        if changed is None:
            return Step.done(Reply(ctx.t("countdowns/not_found", employee_id=parts[0])))
        return Step.done(Reply(ctx.t("countdowns/changed", countdown=changed)))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()
