"""The composition root: the only place that wires channels, flows, jobs, database and templates.
Read top to bottom, it is the table of contents of the bot."""

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
from bot.engine import Engine
from bot.handlers.core import CancelFlow, HelpFlow, LanguageFlow, StatusFlow, identity_section
from bot.handlers.invite import InviteFlow
from bot.handlers.profile import ProfileFlow
from bot.handlers.registry import Entry, Registry
from bot.handlers.team import TeamFlow
from bot.outbox import Dispatcher
from bot.texts import Texts

log = logging.getLogger("baomi")


def build_registry() -> Registry:
    """Every command, in the order /help lists them. Roles are declared by each flow."""
    help_flow = HelpFlow()
    registry = Registry(
        [
            Entry("status", StatusFlow([identity_section]), instant=True),
            Entry("profile", ProfileFlow()),
            Entry("team", TeamFlow()),
            Entry("invite", InviteFlow()),
            Entry("language", LanguageFlow()),
            Entry("help", help_flow, instant=True),
            Entry("cancel", CancelFlow()),
        ]
    )
    help_flow.registry = registry
    return registry


@dataclass
class BaomiApp:
    settings: Settings
    clock: Clock
    db: Database
    texts: Texts
    registry: Registry
    engine: Engine
    dispatcher: Dispatcher
    ptb: Application
    telegram: TelegramChannel
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, stop: asyncio.Event) -> None:
        """Migrate, connect, and start polling, the engine and the dispatcher."""
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
        from bot.domain.levels import Role

        staff = frozenset({Role.STAFF})
        return {
            locale: [(e.command, self.texts.render(f"menu/{e.command}", locale)) for e in self.registry.menu(staff)]
            for locale in ("zh", "en")
        }


def build_app(settings: Settings, clock: Clock) -> BaomiApp:
    token = settings.require_token()
    db = Database(settings.database_url)
    texts = Texts(settings.timezone)
    registry = build_registry()
    ptb = Application.builder().token(token).base_url(settings.telegram_api_url).updater(None).build()
    dispatcher = Dispatcher(db, clock)
    engine = Engine(db, clock, settings.policy, texts, registry, on_outbox=dispatcher.wake)
    # A channel feeds the engine's inbox and performs the dispatcher's rows.
    telegram = TelegramChannel(ptb.bot, db, clock, on_inbox=engine.wake, limits=limits(settings.telegram_rate))
    engine.parsers[telegram.name] = telegram
    dispatcher.add_sender(telegram)
    return BaomiApp(settings, clock, db, texts, registry, engine, dispatcher, ptb, telegram)
