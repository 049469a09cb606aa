"""The bot's long-running loops under one supervisor: the engine, the dispatcher, the sweeps and a channel's
poller. What happens when a loop's run ends before the bot stops:

- an outage (`is_outage`: the database or a service's API cannot be reached, or dropped the connection): the
  supervisor logs one line when it begins, naming the loop and what failed, never a traceback; it runs the loop
  again after a pause that doubles from `Backoff.first` up to `Backoff.most`, for as long as the outage lasts, and
  logs one line when the loop makes progress again. Nothing is lost meanwhile: what the loops had not committed
  stays in the inbox or the outbox and is done again;
- a ConfigError (a token revoked while the bot runs): the bot stops and the command prints that one line and exits
  2, since nothing but the operator can fix it;
- anything else is a bug: its traceback is logged once and the bot stops with exit code 1, so that the service
  manager (systemd's `Restart=on-failure`, a container's restart policy) starts a fresh process rather than this
  one going on with state the bug may have left wrong. The inbox, the outbox and the crash rule make the restart
  lose nothing.

Each loop beats (`Pulse.beat`) whenever it has made progress. `health()` reports every loop: alive, retrying
through an outage, stale (no beat for longer than its `stale_after` on the injected clock: stuck), or stopped;
/healthz answers 503 naming the loops that are not alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.clock import Clock
from bot.config import ConfigError
from bot.db.session import DatabaseUnreachable, NotLeader, first_line, is_unreachable

log = logging.getLogger("baomi.supervisor")

NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
    }
)


class Outage(Exception):
    """A service a loop needs cannot be reached (raised by a channel from its library's network errors)."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service} unreachable ({detail})")
        self.service = service


def is_outage(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, says that the database or a service could not be reached:
    it passes, and trying again later is the cure. A statement the database refuses, or a bug, is not one."""
    return any(_is_outage(link) for link in _chain(exc))


def _is_outage(exc: BaseException) -> bool:
    # NotLeader: another instance leads since this one's lock connection failed; the leader's loops wait for it to
    # step down (bot/leadership.py notices within seconds) rather than stop the bot.
    if isinstance(exc, Outage | TimeoutError | ConnectionError | socket.gaierror | aiohttp.ClientError | NotLeader):
        return True
    if isinstance(exc, OSError) and exc.errno in NETWORK_ERRNOS:
        return True
    return is_unreachable(exc)


def quiet_unawaited_outages(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Until the returned function is called, an outage's error left where nobody awaits it is a line at debug
    level, not a traceback. asyncpg probes a new connection for TLS with a future of its own; when the connection
    drops just as the task making it is cancelled (a loop stopped in an outage), nobody takes the error, and asyncio
    would print "Future exception was never retrieved" with it. The outage itself is reported once, by the
    supervisor. Anything else goes to the handler there was."""
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if exc is not None and is_outage(exc) and "never retrieved" in str(context.get("message", "")):
            log.debug("an outage's error nobody awaited: %s", describe(exc)[1])
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    return lambda: loop.set_exception_handler(previous)


def describe(exc: BaseException) -> tuple[str, str]:
    """What could not be reached ("database", a service's name, or "network"), and one line for the log and
    /healthz with the error that said so."""
    for link in _chain(exc):
        if isinstance(link, Outage):
            return link.service, str(link)
        if isinstance(link, NotLeader):
            return "leadership", f"another instance leads ({link})"
        if isinstance(link, DatabaseUnreachable):
            return "database", f"database unreachable ({link})"
        if is_unreachable(link):
            return "database", f"database unreachable ({type(link).__name__}: {first_line(link)})"
    return "network", f"network error ({type(exc).__name__}: {first_line(exc)})"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


@dataclass(frozen=True)
class Backoff:
    """Seconds between runs of a loop in an outage: `first`, doubling up to `most`."""

    first: float = 0.5
    most: float = 30.0

    def delay(self, retries: int) -> float:
        return min(self.most, self.first * 2 ** min(retries, 30))


class Pulse:
    """A loop's line to its supervisor."""

    def __init__(self, beat: Callable[[], None]) -> None:
        self.beat = beat  # "progress made": clears an outage, keeps the loop from being reported stale


def no_pulse() -> Pulse:
    """For running a loop outside a supervisor."""
    return Pulse(lambda: None)


@dataclass(frozen=True)
class Loop:
    """A long-running loop: `run(stop, pulse)` returns once `stop` is set, raises when it cannot go on."""

    name: str
    run: Callable[[asyncio.Event, Pulse], Awaitable[None]]
    # No beat for this long (on the injected clock) means the loop is stuck.
    stale_after: timedelta
    # Cancelled at stop rather than waited for (a long poll: what it holds unconfirmed comes again).
    cancel_on_stop: bool = False


@dataclass
class LoopState:
    loop: Loop
    beat_at: datetime
    task: asyncio.Task[None] | None = None
    outage: str | None = None  # what failed, while the loop waits to run again
    service: str = ""  # what could not be reached: "database", "Telegram Bot API", …
    retries: int = 0


@dataclass
class Supervisor:
    clock: Clock
    backoff: Backoff = field(default_factory=Backoff)
    loops: dict[str, LoopState] = field(default_factory=dict)
    # Set when a loop could not go on: the exit code (2: for the operator to fix, 1: a bug) and the line to print.
    failure: tuple[int, str] | None = None
    # Per service out of reach: since when, and the loops waiting for it. An outage is logged when its first loop
    # meets it and when its last loop has made progress again: one line each, however many loops and retries.
    outages: dict[str, tuple[datetime, set[str]]] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self, stop: asyncio.Event, loops: list[Loop]) -> None:
        """Run each loop in a task of its own until `stop` is set (which the supervisor sets too when a loop
        cannot go on)."""
        self._stop = stop
        for loop in loops:
            state = LoopState(loop, self.clock.now())
            self.loops[loop.name] = state
            state.task = asyncio.create_task(self._supervise(state), name=loop.name)

    async def stop(self) -> None:
        """Wait for every loop to finish what it is doing (`stop` is set), cancelling those that only wait."""
        for state in self.loops.values():
            if state.loop.cancel_on_stop and state.task is not None:
                state.task.cancel()
        for state in self.loops.values():
            if state.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await state.task

    def alive(self, name: str) -> bool:
        state = self.loops.get(name)
        return state is not None and state.task is not None and not state.task.done()

    def health(self) -> dict[str, str]:
        """Each loop: "alive", "retrying for … s: <what failed>", "stale: no progress for … s", or "stopped"."""
        now = self.clock.now()
        report: dict[str, str] = {}
        for name, state in self.loops.items():
            if not self.alive(name):
                report[name] = "stopped"
            elif state.outage is not None:
                since = self.outages.get(state.service, (now, set()))[0]
                report[name] = f"retrying for {_seconds(now - since)} s: {state.outage}"
            elif now - state.beat_at > state.loop.stale_after:
                report[name] = f"stale: no progress for {_seconds(now - state.beat_at)} s"
            else:
                report[name] = "alive"
        return report

    def _beat(self, state: LoopState) -> None:
        state.beat_at = self.clock.now()
        state.retries = 0
        if state.outage is not None:
            self._recovered(state)

    def _met_outage(self, state: LoopState, exc: BaseException) -> None:
        service, what = describe(exc)
        if state.outage is not None and state.service != service:
            self._recovered(state)  # what it waited for answers, and something else does not
        state.outage, state.service = what, service
        waiting = self.outages.setdefault(service, (self.clock.now(), set()))[1]
        if not waiting:
            log.warning("%s; %s waits and retries", what, state.loop.name)
        waiting.add(state.loop.name)

    def _recovered(self, state: LoopState) -> None:
        since, waiting = self.outages.get(state.service, (self.clock.now(), set()))
        waiting.discard(state.loop.name)
        if not waiting:
            self.outages.pop(state.service, None)
            log.warning("%s reachable again after %s s", state.service, _seconds(self.clock.now() - since))
        state.outage = None
        state.service = ""

    async def _supervise(self, state: LoopState) -> None:
        loop, stop = state.loop, self._stop
        pulse = Pulse(lambda: self._beat(state))
        while not stop.is_set():
            try:
                await loop.run(stop, pulse)
                if not stop.is_set():
                    raise RuntimeError(f"the {loop.name} loop returned while the bot runs")
                return
            except ConfigError as exc:  # the command prints it as its last line
                self._fail(2, str(exc))
                return
            except Exception as exc:
                if not is_outage(exc):
                    log.exception("%s failed (%s): stopping the bot", loop.name, type(exc).__name__)
                    self._fail(1, f"the {loop.name} loop failed: {type(exc).__name__}")
                    return
                if stop.is_set():
                    log.warning("%s stopped during an outage: %s", loop.name, describe(exc)[1])
                    return
                self._met_outage(state, exc)
                await _sleep_or_stop(stop, self.backoff.delay(state.retries))
                state.retries += 1

    def _fail(self, code: int, line: str) -> None:
        if self.failure is None:
            self.failure = (code, line)
        self._stop.set()

    def outcome(self) -> int:
        """Once the loops have stopped: the command's exit code (0: stopped as asked). Raises the ConfigError of a
        loop that stopped for the operator to fix something, for the command line to print as its one line."""
        if self.failure is None:
            return 0
        code, line = self.failure
        if code == 2:
            raise ConfigError(line)
        return code


def _seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
