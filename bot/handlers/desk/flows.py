"""/console: an officer or a head asks for a one-time link to the web console, and can end every session they
have open (a lost laptop, a shared computer)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.core.events import FlowEvent
from bot.core.flow import HEADS_AND_OFFICERS, Button, FlowContext, Reply, Step
from bot.handlers.desk import service
from bot.handlers.desk.service import LINK_VALID

LOGIN_PATH = "/console/login"


class ConsoleFlow:
    name = "console"
    prefix = "dk"
    roles = HEADS_AND_OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Answers with the link, valid for minutes and once, and a button that ends all sessions."""
        if ctx.public_url is None:
            return Step.done(Reply(ctx.t("desk/not_served")))
        token = await service.issue_link(ctx.session, ctx.person.id, ctx.now)
        link = f"{ctx.public_url}{LOGIN_PATH}?token={quote(token)}"
        minutes = int(LINK_VALID.total_seconds() // 60)
        end = Button(ctx.t("desk/btn_end_all"), "end", target=EndSessionsAction.prefix)
        return Step.done(Reply(ctx.t("desk/link", link=link, minutes=minutes), buttons=[[end]]))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


class EndSessionsAction:
    """结束所有会话 under the link: every console session of the person ends, and unused links stop working."""

    prefix = "dke"
    roles = HEADS_AND_OFFICERS

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        count = await service.end_all(ctx.session, ctx.person.id, ctx.now)
        return Step.done(Reply(ctx.t("desk/ended", count=count)))
