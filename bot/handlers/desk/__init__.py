"""The web console's door in the chat: `/console` gives an officer or a head a one-time sign-in link, and ends
their sessions. The console itself (bot/console_web/) is served by `baomi serve` and works on these services."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.desk.flows import ConsoleFlow, EndSessionsAction


def register(bot: Wiring) -> None:
    bot.command("console", ConsoleFlow(), aliases=("控制台", "办公桌面"), instant=True)
    bot.action(EndSessionsAction())  # 结束所有会话, under the link
