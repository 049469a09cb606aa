"""Leaving a classified post (离岗): the officer records the approved departure, the departure pledge is asked for,
and the declassification period (脱密期) counts down with reminders to the office."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.departures import cli
from bot.handlers.departures.countdowns import CountdownsFlow
from bot.handlers.departures.depart import DepartFlow
from bot.handlers.departures.sweeps import CountdownSweep


def register(bot: Wiring) -> None:
    bot.command("depart", DepartFlow(), aliases=("离岗",))
    bot.command("countdowns", CountdownsFlow(), aliases=("脱密期",))
    bot.sweep(CountdownSweep())
    bot.cli("depart", cli.depart, "record an approved departure and ask for the departure pledge", cli.depart_arguments)
    bot.cli("countdowns", cli.countdowns_list, "everyone in a declassification period")
