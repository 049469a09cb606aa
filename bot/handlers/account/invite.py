"""/invite: an officer issues a fresh invitation code for one person (a new phone, a lost code)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Text
from bot.core.flow import OFFICERS, FlowContext, Reply, Step
from bot.services import audit, people
from bot.services.invitations import issue_for


class InviteState(StrEnum):
    ASKING = "asking"  # waiting for an employee id


class InviteFlow:
    name = "invite"
    prefix = "iv"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Issues at once when given an employee id, else asks for one."""
        if args.strip():
            return await self.issue(ctx, args.strip())
        return Step({"state": InviteState.ASKING}, [Reply(ctx.t("invite/ask"))])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        """Takes the typed employee id."""
        if isinstance(event, Text) and event.text.strip():
            return await self.issue(ctx, event.text.strip())
        return Step(state, [Reply(ctx.t("invite/ask"))])

    async def issue(self, ctx: FlowContext, employee_id: str) -> Step:
        person = await people.by_employee_id(ctx.session, employee_id)
        if person is None or not person.active:
            return Step({"state": InviteState.ASKING}, [Reply(ctx.t("invite/unknown", employee_id=employee_id))])
        issued = await issue_for(ctx.session, person.id, ctx.now, ctx.policy.invitation_valid_days)
        await audit.record(ctx.session, ctx.now, ctx.person.id, "invite.by_officer", f"staff:{person.id}")
        return Step.done(Reply(ctx.t("invite/issued", person=person, code=issued.code, expires=issued.expires_at)))
