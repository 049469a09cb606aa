"""The person and their conversation with the bot: /status (each capability adds a section), /profile, /invite,
/language, /help, /cancel, the buttons on reminders that start a command, and `baomi roster import`."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.core.registry import Rank
from bot.core.shortcut import StartAction
from bot.handlers.account import cli
from bot.handlers.account.basics import CancelFlow, HelpFlow, LanguageFlow, StatusFlow, identity_section
from bot.handlers.account.invite import InviteFlow
from bot.handlers.account.profile import ProfileFlow


def register(bot: Wiring) -> None:
    bot.command("status", StatusFlow(), instant=True, rank=Rank.FIRST)
    bot.status(identity_section)
    bot.command("profile", ProfileFlow())
    bot.command("invite", InviteFlow())
    bot.action(StartAction())  # buttons on reminders and nudges that start a command ("签署承诺书")
    bot.command("language", LanguageFlow(), rank=Rank.LAST)
    bot.command("help", HelpFlow(), instant=True, rank=Rank.LAST)
    bot.command("cancel", CancelFlow(), rank=Rank.LAST)
    bot.cli_group("roster", "staff roster")
    bot.cli("roster import", cli.roster_import, "import a roster (CSV in UTF-8/GBK, or XLSX)", cli.roster_arguments)
