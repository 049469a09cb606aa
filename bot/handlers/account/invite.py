"""/invite: an officer issues a fresh invitation code for one person (a new phone, a lost code). The person is
found by employee id (in any case) or by a part of their name, picked with a button when several match; someone
already bound is warned about first, since the new code moves their account (the old one is told)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import OFFICERS, Button, FlowContext, Reply, Step
from bot.core.guarding import refuse_marked
from bot.services import audit, people
from bot.services.invitations import issue_for, telegram_link

PICK_LIMIT = 10  # people offered as buttons for a typed name


class InviteState(StrEnum):
    ASKING = "asking"  # waiting for an employee id or a name
    PICKING = "picking"  # several people match: one button each
    CONFIRMING = "confirming"  # the person is bound already: issuing moves their account


class InviteFlow:
    name = "invite"
    prefix = "iv"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Finds the person at once when given an employee id or a name, else asks for one."""
        if args.strip():
            return await self.find(ctx, args.strip())
        return Step({"state": InviteState.ASKING}, [Reply(ctx.t("invite/ask"))])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match InviteState(state["state"]), event:
            case InviteState.PICKING, Pick("who", (employee_id,)):
                return await self.chosen(ctx, employee_id)
            case InviteState.CONFIRMING, Pick("yes"):
                return await self.issue(ctx, state["employee_id"])
            case InviteState.CONFIRMING, Pick("no"):
                return Step.done(Reply(ctx.t("invite/not_issued"), replace=True))
            case _, Text(text) if text.strip():
                return await self.find(ctx, text.strip())
        return Step({"state": InviteState.ASKING}, [Reply(ctx.t("invite/ask"))])

    async def find(self, ctx: FlowContext, typed: str) -> Step:
        """By employee id, else by name: one match goes on, several are offered as buttons."""
        if refusal := refuse_marked(ctx, typed):
            return Step({"state": InviteState.ASKING}, [refusal])
        exact = await people.by_employee_id(ctx.session, typed)
        found = [exact] if exact is not None and exact.active else await people.search(ctx.session, typed, PICK_LIMIT)
        if not found:
            return Step({"state": InviteState.ASKING}, [Reply(ctx.t("invite/unknown", employee_id=typed))])
        if len(found) == 1:
            return await self.chosen(ctx, found[0].employee_id)
        buttons = [[Button(f"{p.name}（{p.employee_id}，{p.department}）", "who", (p.employee_id,))] for p in found]
        return Step({"state": InviteState.PICKING}, [Reply(ctx.t("invite/pick", count=len(found)), buttons)])

    async def chosen(self, ctx: FlowContext, employee_id: str) -> Step:
        """Issues at once for someone not bound; warns first when the code would move a bound account."""
        person = await people.by_employee_id(ctx.session, employee_id)
        if person is None or not person.active:
            return Step({"state": InviteState.ASKING}, [Reply(ctx.t("invite/unknown", employee_id=employee_id))])
        channels = (await people.bound_channels(ctx.session, [person.id]))[person.id]
        if not channels:
            return await self.issue(ctx, person.employee_id)
        buttons = [
            [Button(ctx.t("invite/btn_yes"), "yes")],
            [Button(ctx.t("invite/btn_no"), "no")],
        ]
        text = ctx.t("invite/rebind", person=person, channels=channels)
        return Step({"state": InviteState.CONFIRMING, "employee_id": person.employee_id}, [Reply(text, buttons)])

    async def issue(self, ctx: FlowContext, employee_id: str) -> Step:
        person = await people.by_employee_id(ctx.session, employee_id)
        if person is None or not person.active:
            return Step({"state": InviteState.ASKING}, [Reply(ctx.t("invite/unknown", employee_id=employee_id))])
        issued = await issue_for(ctx.session, person.id, ctx.now, ctx.policy.invitation_valid_days)
        await audit.record(ctx.session, ctx.now, ctx.person.id, "invite.by_officer", f"staff:{person.id}")
        link = await telegram_link(ctx.session, issued.code)
        text = ctx.t("invite/issued", person=person, code=issued.code, expires=issued.expires_at, link=link)
        return Step.done(Reply(text))
