"""A button that starts a command, as if the person had typed it: reminders and nudges carry one ("签署承诺书",
"开始答卷"), so nobody has to remember /pledge on a phone."""

from __future__ import annotations

from bot.core.flow import EVERYONE, Button, FlowContext, Step
from bot.core.registry import allowed

START_ACTION = "go"


def start_button(label: str, command: str) -> Button:
    return Button(label, "start", (command,), target=START_ACTION)


class StartAction:
    prefix = START_ACTION
    roles = EVERYONE

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        entry = ctx.registry.lookup(args[0]) if action == "start" and len(args) == 1 else None
        if entry is None:
            return Step(None, toast=ctx.t("core/stale_button"))
        if not allowed(entry.flow.roles, ctx.person.roles):
            return Step(None, toast=ctx.t("core/no_right"))
        step = await entry.flow.start(ctx, "")
        if step.state is None:
            return Step(None, step.replies, step.outgoing, step.toast)
        return Step(step.state, step.replies, step.outgoing, step.toast, flow=entry.flow.name)
