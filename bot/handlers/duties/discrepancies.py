"""/discrepancies (清查差异): the secrecy office resolves the inventory discrepancies — a department's count that
differed from the register with nothing missing (教育局保密工作制度篇3 第二十七条: 发现问题及时报告保密办) — once it has
gone through the register with the department: 已核实, with a short reason, after a confirmation; audit-logged, and
the head who reported it is told. /dashboard and /team show the open ones."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import OFFICERS, Button, FlowContext, Outgoing, Priority, Reply, Step
from bot.core.guarding import refuse_marked
from bot.handlers.duties import service as duties
from bot.services import people

MAX_LISTED = 10  # a longer list names the oldest ten and says how many more
MAX_REASON = 100


class DiscrepancyState(StrEnum):
    LISTING = "listing"  # the open discrepancies, each with 核实
    REASON = "reason"  # why the counts differ, as found with the department
    CONFIRMING = "confirm"  # 确认已核实 / 返回


class DiscrepancyFlow:
    name = "discrepancies"
    prefix = "dq"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists the open discrepancies, oldest first."""
        return await self.listing(ctx)

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        current = DiscrepancyState(state["state"])
        match current, event:
            case DiscrepancyState.LISTING, Pick("resolve", (report,)) if report.isdigit():
                return self.ask_reason(ctx, int(report))
            case DiscrepancyState.REASON, Text(text):
                return self.take_reason(ctx, state, text)
            case DiscrepancyState.CONFIRMING, Pick("yes"):
                return await self.resolve(ctx, state)
            case ((DiscrepancyState.REASON | DiscrepancyState.CONFIRMING), Pick("back")):
                return await self.listing(ctx)
        if current is DiscrepancyState.REASON:
            return Step(state, [self._ask(ctx)])
        return await self.listing(ctx)

    def ask_reason(self, ctx: FlowContext, report: int) -> Step:
        """Asks what the check with the department found."""
        return Step({"state": DiscrepancyState.REASON, "report": report}, [self._ask(ctx)])

    def take_reason(self, ctx: FlowContext, state: dict[str, Any], text: str) -> Step:
        """Takes the (guarded) reason and asks to confirm: a resolved discrepancy does not reopen."""
        reason = text.strip()
        if not reason or len(reason) > MAX_REASON:
            return Step(state, [Reply(ctx.t("inventory/resolve_length", limit=MAX_REASON))])
        if refusal := refuse_marked(ctx, reason):
            return Step(state, [refusal])
        buttons = [[Button(ctx.t("inventory/btn_resolve_confirm"), "yes"), Button(ctx.t("rectify/btn_back"), "back")]]
        state = {**state, "state": DiscrepancyState.CONFIRMING, "reason": reason}
        return Step(state, [Reply(ctx.t("inventory/resolve_confirm", reason=reason), buttons)])

    async def resolve(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Resolves it, tells the head who reported it, and shows what is left."""
        found = await duties.resolve_discrepancy(
            ctx.session, ctx.now, int(state["report"]), ctx.person.id, state["reason"]
        )
        step = await self.listing(ctx)
        if found is None:
            return Step(step.state, [Reply(ctx.t("inventory/resolve_gone")), *step.replies])
        notices = []
        if found.reported_by != ctx.person.id:
            locale = (await people.locales(ctx.session, [found.reported_by])).get(found.reported_by, "zh")
            text = ctx.texts.render("inventory/resolved_notice", locale, found=found, reason=state["reason"])
            notices.append(Outgoing(found.reported_by, Reply(text), Priority.REMINDER, "inventory"))
        done = Reply(ctx.t("inventory/resolved", found=found))
        return Step(step.state, [done, *step.replies], notices)

    async def listing(self, ctx: FlowContext) -> Step:
        found = await duties.open_discrepancies(ctx.session)
        if not found:
            return Step.done(Reply(ctx.t("inventory/discrepancies_none")))
        shown = found[:MAX_LISTED]
        buttons = [
            [Button(ctx.t("inventory/btn_resolve", number=i + 1), "resolve", (str(d.id),))] for i, d in enumerate(shown)
        ]
        cutoff = ctx.now - timedelta(days=ctx.policy.inventory_discrepancy_days)
        overdue = {d.id for d in shown if d.reported_at < cutoff}
        text = ctx.t("inventory/discrepancies", items=shown, more=len(found) - len(shown), overdue=overdue)
        return Step({"state": DiscrepancyState.LISTING}, [Reply(text, buttons)])

    def _ask(self, ctx: FlowContext) -> Reply:
        buttons = [[Button(ctx.t("rectify/btn_back"), "back")]]
        return Reply(ctx.t("inventory/resolve_ask", limit=MAX_REASON), buttons)
