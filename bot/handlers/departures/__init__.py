"""Leaving a classified post (离岗): the officer starts the procedure with its kind, the person and their head
complete its preconditions in the chat (the handover list and its receipt, the education before leaving, the
departure pledge), the officer approves it, and the declassification period (脱密期) counts down from the
approval with reminders to the office. `baomi depart` records an approval given on paper."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.departures import cli
from bot.handlers.departures.countdowns import CountdownsFlow
from bot.handlers.departures.depart import DepartFlow
from bot.handlers.departures.leave import LeaveFlow, departure_status, departure_todo
from bot.handlers.departures.sweeps import CountdownSweep, DepartureStepSweep


def register(bot: Wiring) -> None:
    bot.command("depart", DepartFlow(), aliases=("离岗", "离岗办理"))  # the office: start, follow, approve
    bot.command("leave", LeaveFlow(), aliases=("离岗手续", "清退"))  # the person's and the head's steps
    bot.command("countdowns", CountdownsFlow(), aliases=("脱密期",))
    bot.status(departure_status)  # the person's own steps under way
    bot.todo(departure_todo)
    bot.sweep(CountdownSweep())
    bot.sweep(DepartureStepSweep())  # a step waiting a few working days: one reminder
    bot.cli(
        "depart",
        cli.depart,
        "record a departure approved on paper: the steps not done in the chat are marked as done outside",
        cli.depart_arguments,
    )
    bot.cli("countdowns", cli.countdowns_list, "everyone in a declassification period")
