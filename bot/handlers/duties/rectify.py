"""/rectify (整改): heads and the office follow up the 整改 items of the self-checks — a head those of their
department, the office every one — and close each (销号) once it is put right, after a confirmation."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick
from bot.core.flow import Button, FlowContext, Reply, Step
from bot.domain.levels import Role
from bot.handlers.duties import service as duties
from bot.handlers.duties.selfcheck import checklist_labels

MAX_LISTED = 10  # a list longer than this names the first ten and says how many more


class RectifyState(StrEnum):
    LISTING = "listing"  # the open items, each with 销号
    CONFIRMING = "confirm"  # 确认销号 / 返回


class RectifyFlow:
    name = "rectify"
    prefix = "rf"
    roles = frozenset({Role.HEAD, Role.OFFICER})

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists the open items this person may close."""
        return await self.listing(ctx)

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        current = RectifyState(state["state"])
        match current, event:
            case RectifyState.LISTING, Pick("close", (item,)) if item.isdigit():
                return self.confirm(ctx, int(item))
            case RectifyState.CONFIRMING, Pick("yes"):
                return await self.close(ctx, int(state["item"]))
            case RectifyState.CONFIRMING, Pick("back"):
                return await self.listing(ctx)
        return await self.listing(ctx)

    def confirm(self, ctx: FlowContext, item: int) -> Step:
        """Asks to confirm: a closed item does not reopen."""
        buttons = [[Button(ctx.t("rectify/btn_confirm"), "yes"), Button(ctx.t("rectify/btn_back"), "back")]]
        return Step({"state": RectifyState.CONFIRMING, "item": item}, [Reply(ctx.t("rectify/confirm"), buttons)])

    async def close(self, ctx: FlowContext, item: int) -> Step:
        """Closes the item (audit-logged) and shows what is left."""
        closed = await duties.close_item(ctx.session, ctx.now, item, ctx.person.id, self._scope(ctx))
        step = await self.listing(ctx)
        notice = Reply(ctx.t("rectify/closed" if closed else "rectify/not_found"))
        return Step(step.state, [notice, *step.replies])

    async def listing(self, ctx: FlowContext) -> Step:
        items = await duties.open_items(ctx.session, self._scope(ctx))
        if not items:
            return Step.done(Reply(ctx.t("rectify/none")))
        shown = items[:MAX_LISTED]
        buttons = [
            [Button(ctx.t("rectify/btn_close", number=i + 1), "close", (str(r.id),))] for i, r in enumerate(shown)
        ]
        labels = checklist_labels()
        today = ctx.today
        text = ctx.t("rectify/list", items=shown, more=len(items) - len(shown), today=today, labels=labels)
        return Step({"state": RectifyState.LISTING}, [Reply(text, buttons)])

    def _scope(self, ctx: FlowContext) -> int | None:
        """The office sees every item; a head only their department's."""
        return None if ctx.person.has(Role.OFFICER) else ctx.person.department_id
