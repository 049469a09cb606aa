"""通知: notices from the secrecy office to everyone or a chosen part, with 已阅 acknowledgements, nudges,
deadlines, a progress bar and a delivery report; also from the command line."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.broadcasts import cli
from bot.handlers.broadcasts.flows import AckAction, BroadcastFlow, BroadcastsFlow
from bot.handlers.broadcasts.sweeps import BroadcastDeadlines, BroadcastProgress


def register(bot: Wiring) -> None:
    bot.command("broadcast", BroadcastFlow(), aliases=("发通知",))
    bot.command("broadcasts", BroadcastsFlow(), aliases=("通知记录",))
    bot.action(AckAction())  # 已阅 on a notice works outside any conversation
    # Progress message and delivery report (also run by the dispatcher as rows finish); deadline lists to heads.
    bot.sweep(BroadcastProgress())
    bot.sweep(BroadcastDeadlines())
    bot.cli_group("broadcast", "notices from the secrecy office (通知)")
    bot.cli(
        "broadcast send",
        cli.broadcast_send,
        "preview a notice; with --yes, send it through the running bot",
        cli.send_arguments,
    )
