"""The one interface between the bot and a messaging service (Telegram, WeCom, the in-process test channel).

A channel does four things and knows nothing about flows:
- inbound: it takes what arrives (long polling, an HTTP callback), parses it into a neutral `Inbound` event at once,
  and hands that to `Intake` (bot/core/intake.py), which writes only what the engine reads and wakes the engine;
- perform: it carries out one outbox row (`Operation`) and says how it went (`Result`);
- find_delivered: after a crash, it tells whether a send that was in flight arrived.
Optional parts have defaults here: binding accounts the service itself vouches for (`auto_bind`, `sweeps`),
HTTP routes served by `baomi serve` (`routes`). A channel subclasses `Channel` explicitly to inherit them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.core.events import Inbound
from bot.core.intake import Intake
from bot.core.supervise import Loop
from bot.db.session import Database

if TYPE_CHECKING:
    from aiohttp import web

    from bot.core.sweep import Sweep


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # try again later (network, 5xx, 429)
    UNREACHABLE = "unreachable"  # the account blocked the bot or is gone
    FAILED = "failed"  # the channel refused this operation for good
    # Not now, and not an attempt: back to pending for retry_after seconds (a per-member quota is full). The
    # channel is not paused, unlike a RETRY with retry_after.
    DEFERRED = "deferred"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    message_id: str | None = None
    retry_after: float | None = None  # seconds; set for 429
    error: str | None = None


@dataclass(frozen=True)
class Limits:
    per_second: float  # counted operations in any one second, over all chats
    # Seconds between counted operations to one chat, replies included.
    chat_interval: float
    concurrency: int  # operations in flight at once
    # Operations the service does not count as messages: performed at once, outside the chat's order and the budget.
    uncounted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Operation:
    """What a channel needs to perform one outbox row, detached from the database session."""

    id: int
    chat_id: str
    op: str  # send, edit, answer, delete, menu
    payload: dict[str, Any]
    priority: int
    probe_after: str | None = None
    attempts: int = 0
    channel: str = ""
    source: str | None = None


@dataclass(frozen=True)
class Route:
    """An HTTP endpoint a channel needs `baomi serve` to expose (a callback, a webhook)."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ChannelEnv:
    """What the composition root hands a channel's `configure`."""

    db: Database
    clock: Clock
    intake: Intake  # writes parsed events to the inbox (only what the engine reads) and wakes the engine
    serving: bool  # behind `baomi serve`'s HTTP server (callbacks and webhooks arrive there)


@dataclass(frozen=True)
class StartContext:
    """What a channel is told when the bot starts."""

    stop: asyncio.Event
    # The commands everyone has, by locale, as (command, description): a channel with a command menu shows them.
    commands: Mapping[str, list[tuple[str, str]]] = field(default_factory=dict)


REJECTIONS_EVERY = timedelta(minutes=1)


@dataclass
class Rejections:
    """The log of what an HTTP endpoint refused (a forged callback, a wrong secret), by kind: at most one line a
    minute for each kind, which says how many it left unsaid. Forged posts by the thousand must not flood the log."""

    log: logging.Logger
    what: str  # e.g. "WeCom callback rejected"
    said_at: dict[str, datetime] = field(default_factory=dict)
    unsaid: dict[str, int] = field(default_factory=dict)

    def say(self, kind: str, now: datetime) -> None:
        last = self.said_at.get(kind)
        if last is not None and now - last < REJECTIONS_EVERY:
            self.unsaid[kind] = self.unsaid.get(kind, 0) + 1
            return
        self.said_at[kind] = now
        unsaid = self.unsaid.pop(kind, 0)
        more = f"; {unsaid} more since the last line" if unsaid else ""
        self.log.warning("%s (%s)%s", self.what, kind, more)


class Channel(Protocol):
    name: str
    limits: Limits

    def parse(self, payload: dict[str, Any]) -> Inbound:
        """An update as this channel receives it, as a neutral event (None event: nothing for the engine; it is not
        stored). Raises ValueError (or KeyError, TypeError) for one it cannot read. Also reads inbox rows written
        before intake kept only events."""
        ...

    async def perform(self, op: Operation) -> Result:
        """Carry out one outbox row."""
        ...

    async def find_delivered(self, op: Operation) -> str | None:
        """For a send in flight at a crash: the message id if it arrived, else None (it is sent again)."""
        ...

    async def start(self, ctx: StartContext) -> list[Loop]:
        """Connect (failing with ConfigError when the service refuses the credentials or cannot be reached in
        time); returns the long-running loops that receive (a long poll), which the app runs under its supervisor
        (bot/core/supervise.py)."""
        ...

    async def stop(self) -> None:
        """Release connections; the tasks have ended."""
        ...

    # --- optional -----------------------------------------------------------------------------------------------
    # Whether it receives without an HTTP server (`baomi run` needs one channel that does).
    polls: bool = False
    # Whether it keeps a keyboard of its own under the input field (a reply's `keyboard`: Telegram's reply keyboard).
    keyboard: bool = False

    async def auto_bind(self, session: AsyncSession, user_id: str, now: datetime) -> int | None:
        """For a service whose accounts are the organisation's own: bind an unknown account that the roster names
        and return its staff id. None: a stranger (they need an invitation code)."""
        return None

    def sweeps(self) -> list[Sweep]:
        """Sweeps the channel needs each tick, run before the duties' (e.g. binding the roster's accounts)."""
        return []

    def routes(self) -> list[Route]:
        """HTTP endpoints for `baomi serve`."""
        return []

    async def lead(self) -> None:
        """This instance has just become the leader: pick up what the previous one kept (e.g. what it counted)."""
        return None
