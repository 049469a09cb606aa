"""The person and their conversation with the bot: /status (each capability adds a section), /profile, /invite,
/language, /help, /cancel, the buttons on reminders that start a command, and `baomi roster import`."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.core.registry import Rank
from bot.core.shortcut import StartAction
from bot.handlers.account import cli
from bot.handlers.account.basics import (
    CancelFlow,
    HelpFlow,
    LanguageAction,
    LanguageFlow,
    StatusFlow,
    identity_section,
)
from bot.handlers.account.invite import InviteFlow
from bot.handlers.account.profile import ProfileFlow


def register(bot: Wiring) -> None:
    bot.command(
        "status",
        StatusFlow(),
        aliases=("待办", "我的待办", "状态", "todo", "to-do", "my to-dos", "status"),
        instant=True,
        rank=Rank.FIRST,
    )
    bot.status(identity_section)
    bot.command("profile", ProfileFlow(), aliases=("我的信息", "个人信息"))
    bot.command("invite", InviteFlow(), aliases=("邀请", "邀请码"))
    bot.action(StartAction())  # buttons on reminders and nudges that start a command ("签署承诺书")
    bot.command("language", LanguageFlow(), aliases=("语言", "language"), rank=Rank.LAST)
    bot.action(LanguageAction())
    bot.command("help", HelpFlow(), aliases=("帮助", "菜单", "功能", "help", "menu"), instant=True, rank=Rank.LAST)
    bot.command("cancel", CancelFlow(), aliases=("取消", "退出", "cancel"), rank=Rank.LAST)
    bot.cli_group("roster", "staff roster")
    bot.cli("roster import", cli.roster_import, "import a roster (CSV in UTF-8/GBK, or XLSX)", cli.roster_arguments)
