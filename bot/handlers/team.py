"""/team: a head sees their own department; an officer chooses any department."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from bot.domain.levels import Role
from bot.handlers.base import HEADS_AND_OFFICERS, Button, FlowContext, FlowEvent, Pick, Reply, Step
from bot.services import team
from bot.services.team import DepartmentInfo, Member

# A capability's part of the department view: given the department and its active members, a block of
# text (or None when it has nothing to say). Pledges, quiz, education … each add one.
TeamSection = Callable[[FlowContext, DepartmentInfo, list[Member]], Awaitable[str | None]]


async def roster_section(ctx: FlowContext, department: DepartmentInfo, members: list[Member]) -> str | None:
    return ctx.t("team/department", department=department, members=members)


class TeamState(StrEnum):
    CHOOSING = "choosing"  # an officer picks a department


class TeamFlow:
    name = "team"
    prefix = "tm"
    roles = HEADS_AND_OFFICERS

    def __init__(self, sections: list[TeamSection]) -> None:
        self.sections = sections

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Shows the head's department at once; offers officers the list of departments."""
        if not ctx.person.has(Role.OFFICER):
            return Step.done(await self.department_view(ctx, ctx.person.department_id))
        depts = await team.departments(ctx.session)
        buttons = [[Button(d.name, "dept", (str(d.id),))] for d in depts]
        return Step({"state": TeamState.CHOOSING}, [Reply(ctx.t("team/choose"), buttons)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        """Shows the department an officer picked."""
        if isinstance(event, Pick) and event.action == "dept" and event.args and event.args[0].isdigit():
            reply = await self.department_view(ctx, int(event.args[0]))
            return Step.done(Reply(reply.text, replace=True))
        return Step(state, [Reply(ctx.t("team/choose_hint"))])

    async def department_view(self, ctx: FlowContext, department_id: int) -> Reply:
        dept = await team.department(ctx.session, department_id)
        if dept is None:
            return Reply(ctx.t("team/no_department"))
        people = await team.members(ctx.session, department_id)
        parts = [text for section in self.sections if (text := await section(ctx, dept, people))]
        return Reply("\n\n".join(parts))
