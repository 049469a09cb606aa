"""The composition root: the only place that wires channels, capabilities, the engine, the dispatcher, the sweeps,
the database and the templates. Read top to bottom, it is the table of contents of the bot.

A capability is a package under bot/handlers/ with a `register(bot)` (bot/core/capability.py); a channel is a
package under bot/channels/ with a `configure(settings, env)` that returns it, or None when it is not set up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.channels import telegram, wecom
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.core.capability import Capability, Wiring
from bot.core.channel import Channel, ChannelEnv, StartContext
from bot.core.exports import Exports
from bot.core.intake import Intake
from bot.core.registry import Registry
from bot.core.supervise import Loop, Pulse, Supervisor, describe, is_outage, quiet_unawaited_outages
from bot.db.migrate import upgrade
from bot.db.session import Database
from bot.domain.levels import Role
from bot.engine import Engine
from bot.handlers import (
    account,
    broadcasts,
    compliance,
    departures,
    desk,
    duties,
    leak,
    pledges,
    quiz,
    renewals,
    review,
    workday,
)
from bot.jobs.retention import RetentionSweep
from bot.jobs.runner import TICK, SweepRunner
from bot.leadership import LEADER, Leadership
from bot.outbox import Dispatcher
from bot.texts import Texts

log = logging.getLogger("baomi")

# In this order: /help and the menus list commands so, and the sweeps run so each tick.
CAPABILITIES: tuple[Capability, ...] = (
    account,  # /status, /profile, /invite, /language, /help, /cancel; `baomi roster import`
    pledges,  # 保密承诺书
    departures,  # 离岗 and the 脱密期 countdowns
    quiz,  # 保密知识答卷
    leak,  # 泄密事件报告 and the cases
    broadcasts,  # 通知 from the secrecy office
    review,  # 信息发布保密审查: the pre-publication review and its ledger
    duties,  # half-yearly education, carrier inventory, October self-check
    workday,  # the working-day calendar
    renewals,  # the yearly pledge and quiz asked for again
    compliance,  # /team, /dashboard, /export, the weekly digest
    desk,  # /console: sign-in links to the web console (bot/console_web/, served by `baomi serve`)
)

ChannelFactory = Callable[[Settings, ChannelEnv], Channel | None]
CHANNELS: tuple[ChannelFactory, ...] = (telegram.configure, wecom.configure)


def wire(capabilities: Sequence[Capability] = CAPABILITIES) -> Wiring:
    """Every capability's commands, flows, sections, actions, sweeps, hooks and subcommands."""
    bot = Wiring()
    for capability in capabilities:
        capability.register(bot)
    return bot


# No beat for this long and a loop is reported stale (stuck) by /healthz. The engine and the dispatcher look at
# least every 5 seconds; the sweeps tick every minute.
ENGINE_STALE = timedelta(minutes=2)
DISPATCHER_STALE = timedelta(minutes=2)
SWEEPS_STALE = 3 * TICK
LEADERSHIP = "leadership"  # the loop that stands for leader, and while it leads, runs the leader's loops
LEADERSHIP_STALE = timedelta(minutes=1)  # a standby tries, and a leader checks its lock, every LEAD_CHECK seconds


class LeaderLoopFailed(Exception):
    """One of the leader's loops could not go on (a bug): the bot stops as it would on one machine."""


@dataclass
class BaomiApp:
    settings: Settings
    clock: Clock
    db: Database
    texts: Texts
    registry: Registry
    engine: Engine
    dispatcher: Dispatcher
    jobs: SweepRunner
    channels: dict[str, Channel]  # the configured ones, by name
    supervisor: Supervisor
    leadership: Leadership
    # The leader's loops under a supervisor of their own, for one term: they stop when the lead is lost.
    leading: Supervisor | None = None
    migrated: bool = False
    _loud_again: Callable[[], None] | None = None  # puts back the event loop's handler of unawaited errors

    async def migrate(self) -> None:
        """Fail with one line when the database cannot be reached; bring its schema up to date."""
        if not self.migrated:
            await self.db.check()
            await upgrade(self.settings.database_url)
            self.migrated = True

    async def start(self, stop: asyncio.Event) -> None:
        """Migrate and start the channels — every instance takes what is posted to it into the inbox — then stand
        for leader under the supervisor; return once this instance leads (its loops running) or stands by."""
        await self.migrate()
        self._loud_again = quiet_unawaited_outages(asyncio.get_running_loop())
        started = StartContext(stop, self.default_commands())
        loops: list[Loop] = []
        for channel in self.channels.values():
            loops += await channel.start(started)  # Telegram's poll: one taker per token, so the leader's
        loops += [
            Loop("engine", self.engine.run, ENGINE_STALE),
            Loop("dispatcher", self.dispatcher.run, DISPATCHER_STALE),
            Loop("sweeps", self.jobs.run, SWEEPS_STALE),
        ]

        async def stand(stop: asyncio.Event, pulse: Pulse) -> None:
            await self.leadership.run(stop, pulse, lambda resign: self.lead(resign, loops))

        self.supervisor.start(stop, [Loop(LEADERSHIP, stand, LEADERSHIP_STALE)])
        settled = asyncio.ensure_future(self.leadership.settled.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({settled, stopped}, return_when=asyncio.FIRST_COMPLETED)
        settled.cancel()
        stopped.cancel()

    async def lead(self, resign: asyncio.Event, loops: list[Loop]) -> None:
        """This instance leads: run the leader's loops until `resign`. A loop that cannot go on stops the bot as it
        would on a single machine (its supervisor's outcome is raised here)."""
        for channel in self.channels.values():
            await channel.lead()
        # One outage is logged once, when it begins and when it ends, whichever loops of the two supervisors meet it.
        outages = self.supervisor.outages
        self.leading = Supervisor(self.clock, self.supervisor.backoff, outages=outages)
        self.leading.start(resign, loops)
        self.leadership.settled.set()
        await resign.wait()
        await self.leading.stop()
        for _, waiting in outages.values():
            if waiting & self.leading.loops.keys():  # stopped: the bid for the lead waits for it in their stead
                waiting.difference_update(self.leading.loops)
                waiting.add(LEADERSHIP)
        if code := self.leading.outcome():  # raises the ConfigError of one that needs the operator
            raise LeaderLoopFailed(self.leading.failure[1] if self.leading.failure else f"exit code {code}")

    def alive(self, loop: str) -> bool:
        return self.supervisor.alive(loop) or (self.leading is not None and self.leading.alive(loop))

    def health(self) -> dict[str, str]:
        """Every loop of this instance: the bid for the lead, and while it leads, the leader's."""
        leading = self.leading.health() if self.leading is not None and self.leadership.role == LEADER else {}
        return self.supervisor.health() | leading

    async def stop(self) -> None:
        """Finish the step and the sends in progress, then close."""
        await self.supervisor.stop()
        try:
            for channel in self.channels.values():
                try:
                    await channel.stop()
                except Exception as exc:
                    if not is_outage(exc):
                        raise
                    # What it could not save it counts again at the next start.
                    log.warning("%s stopped during an outage: %s", channel.name, describe(exc)[1])
        finally:
            await self.db.dispose()
            if self._loud_again is not None:
                self._loud_again()
                self._loud_again = None

    def default_commands(self) -> dict[str, list[tuple[str, str]]]:
        staff = frozenset({Role.STAFF})
        return {
            locale: [(e.command, self.texts.render(f"menu/{e.command}", locale)) for e in self.registry.menu(staff)]
            for locale in ("zh", "en")
        }


def build_app(
    settings: Settings,
    clock: Clock,
    serve: bool = False,
    channels: Sequence[ChannelFactory] = CHANNELS,
    capabilities: Sequence[Capability] = CAPABILITIES,
) -> BaomiApp:
    """Wire the configured channels: `baomi run` needs one that receives without a server (Telegram's long
    polling), `baomi serve` (`serve`) any one."""
    db = Database(settings.database_url)
    texts = Texts(settings.timezone)
    bot = wire(capabilities)
    registry = bot.registry()
    configured: dict[str, Channel] = {}
    engine = Engine(
        db,
        clock,
        settings.policy,
        texts,
        registry,
        configured,
        bind_hooks=bot.bind_hooks,
        public_url=settings.public_url,
    )
    intake = Intake(db, clock, engine.wake, settings.policy.guard_extra_terms, settings.intake_limit)
    env = ChannelEnv(db, clock, intake, serve)
    for configure in channels:
        if (channel := configure(settings, env)) is not None:
            configured[channel.name] = channel
    if not configured:
        raise ConfigError("no channel configured: set BAOMI_TELEGRAM_TOKEN or the five BAOMI_WECOM_* settings")
    if not serve and not any(channel.polls for channel in configured.values()):
        raise ConfigError("`baomi run` needs a channel it can poll; callbacks and webhooks need `baomi serve`")
    exports = Exports(settings.database_url, clock, settings.policy, settings.timezone, bot.exports)
    dispatcher = Dispatcher(
        db, clock, configured, draw_chart=bot.chart_drawer, make_file=exports.make, send_timeout=settings.send_timeout
    )
    engine.on_outbox = dispatcher.wake
    # A channel's own sweeps (binding the roster's WeCom accounts) run before the duties', so that they reach them.
    # Retention last: what the others needed has been read.
    sweeps = [sweep for channel in configured.values() for sweep in channel.sweeps()] + bot.sweeps + [RetentionSweep()]
    jobs = SweepRunner(db, clock, settings.policy, texts, settings.timezone, sweeps, on_outbox=dispatcher.wake)
    dispatcher.on_recorded.append(jobs.follow)  # sweeps that follow deliveries (a broadcast's progress) run at once
    return BaomiApp(
        settings,
        clock,
        db,
        texts,
        registry,
        engine,
        dispatcher,
        jobs,
        configured,
        Supervisor(clock),
        Leadership(db, clock),
    )
