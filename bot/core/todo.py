"""What a person has to do now, gathered from every capability that registered a source (`bot.todo(...)`): the
welcome says "您有 N 项待办" with a button for each, a text the bot did not understand is answered with the same
buttons, and /status carries them. One place, so that every one of these says the same thing."""

from __future__ import annotations

from bot.core.flow import Button, FlowContext, ToDo
from bot.core.shortcut import start_button

# Typed from a phone's keyboard and offered on Telegram's persistent keyboard: each is an alias of its command.
KEYBOARD = ("my_todos", "pledge", "quiz", "report", "help")


async def gather(ctx: FlowContext) -> list[ToDo]:
    """Every capability's to-dos for this person, in registration order (one line each)."""
    return [item for source in ctx.registry.todos for item in await source(ctx)]


def todo_buttons(
    ctx: FlowContext, items: list[ToDo], *, lead: tuple[str, ...] = (), tail: tuple[str, ...] = ()
) -> list[list[Button]]:
    """The `lead` buttons (keys of core/word), one per command owed (a person owing two pledges gets one
    签承诺书), then the `tail` ones not already there; two to a row."""
    seen: set[str] = set()
    buttons: list[Button] = []

    def add(label: str, command: str) -> None:
        if command not in seen:
            seen.add(command)
            buttons.append(start_button(label, command))

    for key in lead:
        add(ctx.t("core/word", key=key), COMMANDS[key])
    for item in items:
        add(item.label, item.command)
    for key in tail:
        add(ctx.t("core/word", key=key), COMMANDS[key])
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


# The command behind each word of core/word that a button or the keyboard offers.
COMMANDS = {"my_todos": "status", "pledge": "pledge", "quiz": "quiz", "report": "report", "help": "help"}
