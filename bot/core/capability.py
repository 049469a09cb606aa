"""How a capability plugs into the bot.

A capability is a package under bot/handlers/ with one function, `register(bot: Wiring)`, that says what it adds:
its commands and their flows, its sections of /status, its standalone buttons, its scheduled sweeps, what happens
when someone binds, and its `baomi` subcommands. The composition root (bot/app.py) lists the capabilities, calls
each `register` once, and hands the result to the engine, the sweeps and the command line:

    def register(bot: Wiring) -> None:
        bot.command("inventory", InventoryFlow())
        bot.status(inventory_status)
        bot.sweep(InventorySweep())
        bot.cli("export inventory", export_inventory, "the year's carrier inventory", arguments=with_out)

Everything a capability says goes through messages/<capability>/ templates; its tables live in
bot/db/models_<capability>.py with a migration of its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.core.flow import Action, BindHook, ChartDrawer, ExportMaker, Flow, StatusSection, ToDoSource
from bot.core.registry import Entry, Rank, Registry
from bot.core.sweep import Sweep

if TYPE_CHECKING:
    from bot.core.cli import CliEnv

CliHandler = Callable[["CliEnv", argparse.Namespace], Awaitable[int]]


@dataclass(frozen=True)
class CliCommand:
    """`baomi <path>`: e.g. ("export", "pledges"). Groups ("export") are created on first use."""

    path: tuple[str, ...]
    run: CliHandler
    help: str
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


@dataclass
class Wiring:
    """What the capabilities contribute, gathered in registration order."""

    entries: list[Entry] = field(default_factory=list)
    sections: list[StatusSection] = field(default_factory=list)
    todos: list[ToDoSource] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    anonymous_actions: list[str] = field(default_factory=list)  # prefixes
    sweeps: list[Sweep] = field(default_factory=list)
    bind_hooks: list[BindHook] = field(default_factory=list)
    commands: list[CliCommand] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # command-line group -> its help
    chart_drawer: ChartDrawer | None = None
    exports: dict[str, ExportMaker] = field(default_factory=dict)

    def command(
        self,
        name: str,
        flow: Flow,
        *,
        aliases: tuple[str, ...] = (),
        instant: bool = False,
        in_menu: bool = True,
        rank: Rank = Rank.NORMAL,
        anonymous: bool = False,
    ) -> None:
        """A command (`/name`, or one of its typed aliases) that starts `flow`. An `instant` one answers at once and
        leaves the person's current conversation untouched (/help, /status). An `anonymous` one lets people withhold
        their name: its events are logged without saying who sent them."""
        self.entries.append(Entry(name, flow, aliases, in_menu, instant, rank, anonymous))

    def status(self, section: StatusSection) -> None:
        """A section of /status: the person's own standing on this capability's duty (None: nothing to say)."""
        self.sections.append(section)

    def todo(self, source: ToDoSource) -> None:
        """What the person has to do now on this capability's duty, each with the command that does it: the
        welcome, /status and the reply to a text the bot did not understand offer them as buttons."""
        self.todos.append(source)

    def action(self, action: Action, *, anonymous: bool = False) -> None:
        """A standalone button that belongs to no conversation (已阅 on a notice, 受理 on an alert); `anonymous`
        as for a command (a button that leads into an anonymous flow)."""
        self.actions.append(action)
        if anonymous:
            self.anonymous_actions.append(action.prefix)

    def sweep(self, sweep: Sweep) -> None:
        """A scheduled duty: asked every tick what is due, in registration order."""
        self.sweeps.append(sweep)

    def on_bind(self, hook: BindHook) -> None:
        """Called when a person binds; its replies follow the welcome."""
        self.bind_hooks.append(hook)

    def cli_group(self, name: str, help: str) -> None:
        self.groups[name] = help

    def cli(
        self,
        path: str,
        run: CliHandler,
        help: str,
        arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    ) -> None:
        """A `baomi` subcommand, e.g. path "export pledges"; `arguments` adds its options to the parser."""
        self.commands.append(CliCommand(tuple(path.split()), run, help, arguments))

    def draw_charts(self, drawer: ChartDrawer) -> None:
        self.chart_drawer = drawer

    def export(self, kind: str, maker: ExportMaker) -> None:
        """Makes the files of `Export(kind, ...)` replies when they are sent (bot/core/exports.py)."""
        self.exports[kind] = maker

    def registry(self) -> Registry:
        return Registry(self.entries, self.actions, self.sections, self.anonymous_actions, self.todos)


class Capability(Protocol):
    """A capability package (a module with a `register` function)."""

    def register(self, bot: Wiring) -> None: ...
