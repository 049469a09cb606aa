"""/countdowns: everyone in a declassification period, soonest end first, with a button to change each one's
period: the months within its legal range as buttons, then the reason typed (audit-logged). `/countdowns E102 9 原因`
does the same in one line."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import OFFICERS, Button, FlowContext, Reply, Step
from bot.core.guarding import refuse_marked
from bot.domain.declassification import LEGAL_RANGE
from bot.handlers.departures import service as countdowns

MAX_REASON = 50
LISTED = 10  # people with a 调整 button; the list above names everyone
STEP = 3  # months between the offered lengths


class CountdownsState(StrEnum):
    LISTING = "listing"  # the periods, a 调整 button each
    MONTHS = "months"  # the lengths within the legal range
    REASON = "reason"  # typing why


class CountdownsFlow:
    name = "countdowns"
    prefix = "cd"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists the running periods, or changes one when given `EMPLOYEE_ID MONTHS REASON`."""
        today = ctx.today
        parts = args.split(maxsplit=2)
        if not parts:
            running = await countdowns.running(ctx.session, today)
            buttons = [
                [Button(ctx.t("countdowns/btn_change", name=c.name), "pick", (c.employee_id,))]
                for c in running[:LISTED]
            ]
            reply = Reply(ctx.t("countdowns/list", countdowns=running), buttons)
            return Step({"state": CountdownsState.LISTING}, [reply]) if buttons else Step.done(reply)
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
        today = ctx.today
        match CountdownsState(state["state"]), event:
            case CountdownsState.LISTING, Pick("pick", (employee_id,)):
                found = next(
                    (c for c in await countdowns.running(ctx.session, today) if c.employee_id == employee_id), None
                )
                if found is None:
                    return Step.done(Reply(ctx.t("countdowns/not_found", employee_id=employee_id)))
                low, high = LEGAL_RANGE[found.level]
                lengths = sorted({*range(low, high + 1, STEP), high})
                buttons = [[Button(ctx.t("countdowns/btn_months", months=m), "months", (str(m),)) for m in lengths]]
                text = ctx.t("countdowns/ask_months", countdown=found, low=low, high=high)
                return Step(
                    {"state": CountdownsState.MONTHS, "employee_id": employee_id}, [Reply(text, buttons, replace=True)]
                )
            case CountdownsState.MONTHS, Pick("months", (months,)) if months.isdigit():
                new = {**state, "state": CountdownsState.REASON, "months": int(months)}
                return Step(new, [Reply(ctx.t("countdowns/ask_reason", months=int(months), limit=MAX_REASON))])
            case CountdownsState.REASON, Text(text):
                return await self.change(ctx, state["employee_id"], state["months"], text, state)
        return Step.done(Reply(ctx.t("countdowns/usage", limit=MAX_REASON)))

    async def change(self, ctx: FlowContext, employee_id: str, months: int, typed: str, state: dict[str, Any]) -> Step:
        """Checks the reason and changes the period (audit-logged)."""
        reason = typed.strip()
        if not reason or len(reason) > MAX_REASON:
            return Step(state, [Reply(ctx.t("countdowns/ask_reason", months=months, limit=MAX_REASON))])
        if refusal := refuse_marked(ctx, reason):
            return Step(state, [refusal])
        today = ctx.today
        try:
            changed = await countdowns.change_period(
                ctx.session, ctx.now, today, ctx.person.id, employee_id, months, reason
            )
        except ValueError as exc:
            return Step.done(Reply(ctx.t("countdowns/out_of_range", problem=str(exc))))
        if changed is None:
            return Step.done(Reply(ctx.t("countdowns/not_found", employee_id=employee_id)))
        return Step.done(Reply(ctx.t("countdowns/changed", countdown=changed)))
