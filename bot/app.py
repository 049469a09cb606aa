"""The composition root: the only place that wires channels, flows, jobs, database and templates.
Read top to bottom, it is the table of contents of the bot.

Each capability has a block below (marked `# --- <capability> ---`): its commands, its sections of
/status and /team, its standalone buttons, its scheduled sweeps and what happens when someone binds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from telegram.ext import Application

from bot.channels.telegram import TelegramChannel, limits
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.db.migrate import upgrade
from bot.db.session import Database
from bot.domain.levels import Role
from bot.engine import BindHook, Engine
from bot.handlers.base import Action
from bot.handlers.core import CancelFlow, HelpFlow, LanguageFlow, StatusFlow, StatusSection, identity_section
from bot.handlers.invite import InviteFlow
from bot.handlers.profile import ProfileFlow
from bot.handlers.registry import Entry, Registry
from bot.handlers.team import TeamFlow, TeamSection, roster_section
from bot.jobs.base import Sweep
from bot.jobs.runner import TICK, SweepRunner
from bot.outbox import Dispatcher
from bot.texts import Texts

log = logging.getLogger("baomi")


@dataclass
class Capabilities:
    """What the capabilities contribute, gathered in one place and handed to the engine and the jobs."""

    entries: list[Entry] = field(default_factory=list)  # commands, in the order /help lists them
    status: list[StatusSection] = field(default_factory=list)
    team: list[TeamSection] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    on_bind: list[BindHook] = field(default_factory=list)
    registry: Registry | None = None  # built last, from all of the above


def capabilities() -> Capabilities:
    c = Capabilities()
    # --- core: who you are, your department, invitations ---
    c.status.append(identity_section)
    c.team.append(roster_section)
    c.entries += [Entry("profile", ProfileFlow()), Entry("team", TeamFlow(c.team)), Entry("invite", InviteFlow())]
    # --- pledges (保密承诺书) ---
    # --- end pledges ---
    # --- quiz (保密知识答卷) ---
    # --- end quiz ---
    # --- leak reports (泄密事件报告) ---
    # --- end leak reports ---
    # --- broadcasts ---
    # --- end broadcasts ---
    # --- always last: status, language, help, cancel ---
    help_flow = HelpFlow()
    c.entries = [
        Entry("status", StatusFlow(c.status), instant=True),
        *c.entries,
        Entry("language", LanguageFlow()),
        Entry("help", help_flow, instant=True),
        Entry("cancel", CancelFlow()),
    ]
    c.registry = help_flow.registry = Registry(c.entries, c.actions)
    return c


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
    ptb: Application
    telegram: TelegramChannel
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, stop: asyncio.Event) -> None:
        """Migrate, connect, and start polling, the engine, the dispatcher and the sweeps."""
        await self.db.check()
        await upgrade(self.settings.database_url)
        try:
            await self.ptb.initialize()  # getMe: checks the token and the API URL
        except Exception as exc:
            raise ConfigError(
                f"cannot reach the Telegram Bot API at {self.settings.telegram_api_url} with this token "
                f"({type(exc).__name__}); check BAOMI_TELEGRAM_TOKEN and BAOMI_TELEGRAM_API_URL"
            ) from exc
        await self.telegram.set_default_commands(self.default_commands())
        assert self.ptb.job_queue is not None
        self.ptb.job_queue.run_repeating(self.jobs.tick, interval=TICK, first=TICK, name="sweeps")
        await self.ptb.start()  # the JobQueue's scheduler
        self.tasks = [
            asyncio.create_task(self.telegram.poll(stop), name="poll"),
            asyncio.create_task(self.engine.run(stop), name="engine"),
            asyncio.create_task(self.dispatcher.run(stop), name="dispatcher"),
        ]
        log.info("started as @%s", self.ptb.bot.username)

    async def stop(self) -> None:
        """Finish the step and the sends in progress, then close."""
        poll = next((t for t in self.tasks if t.get_name() == "poll"), None)
        if poll is not None:
            poll.cancel()  # a cancelled getUpdates confirms nothing: what it held comes again
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.ptb.running:
            await self.ptb.stop()
        await self.ptb.shutdown()
        await self.db.dispose()

    def default_commands(self) -> dict[str, list[tuple[str, str]]]:
        staff = frozenset({Role.STAFF})
        return {
            locale: [(e.command, self.texts.render(f"menu/{e.command}", locale)) for e in self.registry.menu(staff)]
            for locale in ("zh", "en")
        }


def build_app(settings: Settings, clock: Clock) -> BaomiApp:
    token = settings.require_token()
    db = Database(settings.database_url)
    texts = Texts(settings.timezone)
    caps = capabilities()
    registry = caps.registry
    assert registry is not None
    ptb = Application.builder().token(token).base_url(settings.telegram_api_url).updater(None).build()
    dispatcher = Dispatcher(db, clock)
    engine = Engine(db, clock, settings.policy, texts, registry, on_outbox=dispatcher.wake, bind_hooks=caps.on_bind)
    jobs = SweepRunner(db, clock, settings.policy, texts, settings.timezone, caps.sweeps, on_outbox=dispatcher.wake)
    # A channel feeds the engine's inbox and performs the dispatcher's rows.
    telegram = TelegramChannel(ptb.bot, db, clock, on_inbox=engine.wake, limits=limits(settings.telegram_rate))
    engine.parsers[telegram.name] = telegram
    dispatcher.add_sender(telegram)
    return BaomiApp(settings, clock, db, texts, registry, engine, dispatcher, jobs, ptb, telegram)
