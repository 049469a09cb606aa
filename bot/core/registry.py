"""The table of flows and actions. The engine routes by it; /help, /status and the command menus derive from it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from bot.core.flow import Action, Flow, StatusSection, ToDoSource
from bot.domain.levels import Role


class Rank(IntEnum):
    """Where a command stands in /help and the menus: /status first, /language, /help and /cancel last."""

    FIRST = 0
    NORMAL = 1
    LAST = 2


@dataclass(frozen=True)
class Entry:
    command: str
    flow: Flow
    # Typed commands without a slash (WeCom users type 承诺, 答题, 报告).
    aliases: tuple[str, ...] = ()
    in_menu: bool = True
    # Answers at once and leaves the person's current conversation untouched (help, status).
    instant: bool = False
    rank: Rank = Rank.NORMAL
    # Its people may withhold their name (/report): the engine logs its events without saying who sent them.
    anonymous: bool = False


class Registry:
    def __init__(
        self,
        entries: Iterable[Entry],
        actions: Iterable[Action] = (),
        sections: Iterable[StatusSection] = (),
        anonymous_actions: Iterable[str] = (),
        todos: Iterable[ToDoSource] = (),
    ) -> None:
        self.entries = sorted(entries, key=lambda e: e.rank)  # stable: registration order within a rank
        self.by_command = {e.command: e for e in self.entries}
        self.by_alias = {alias_key(a): e for e in self.entries for a in e.aliases}
        self.flows = {e.flow.name: e.flow for e in self.entries}
        self.by_prefix = {e.flow.prefix: e.flow for e in self.entries}
        self.actions = {a.prefix: a for a in actions}
        self.sections = list(sections)  # /status, in registration order
        self.todos = list(todos)  # what a person has to do now, in registration order
        # Whose events are logged without the person: the flows that let people withhold their name.
        self.anonymous_flows = frozenset(e.flow.name for e in self.entries if e.anonymous)
        self.anonymous_prefixes = frozenset(
            [e.flow.prefix for e in self.entries if e.anonymous] + list(anonymous_actions)
        )
        if len(self.by_command) != len(self.entries):
            raise ValueError("commands must be unique")
        clash = set(self.by_prefix) & set(self.actions)
        if clash or len(self.by_prefix) != len({e.flow.name for e in self.entries}):
            raise ValueError(f"button prefixes must be unique: {sorted(clash)}")

    def lookup(self, command: str) -> Entry | None:
        return self.by_command.get(command) or self.by_alias.get(alias_key(command))

    def typed(self, text: str) -> Entry | None:
        """The command a typed word names ("帮助", "取消", "Help!"), or None."""
        return self.by_alias.get(alias_key(text))

    def menu(self, roles: frozenset[Role]) -> list[Entry]:
        return [e for e in self.entries if e.in_menu and allowed(e.flow.roles, roles)]


# Marks and punctuation around a typed word: "帮助。", "help!", "【待办】".
EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def alias_key(text: str) -> str:
    """A typed word as aliases are compared: full-width forms folded, case ignored, punctuation at the ends and
    spaces dropped."""
    return "".join(EDGES.sub("", unicodedata.normalize("NFKC", text).casefold()).split())


def allowed(needed: frozenset[Role], held: frozenset[Role]) -> bool:
    return bool(needed & held)
