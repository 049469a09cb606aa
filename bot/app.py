"""The composition root: the only place that wires channels, flows, jobs, database and templates.
Read top to bottom, it is the table of contents of the bot.

Each capability has a block below (marked `# --- <capability> ---`): its commands, its sections of
/status, its standalone buttons, its scheduled sweeps and what happens when someone binds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from telegram.ext import Application

from bot.channels.telegram.channel import ALLOWED_UPDATES, TelegramChannel, limits
from bot.channels.telegram.http import AiohttpRequest
from bot.channels.wecom.binding import RosterBindingSweep
from bot.channels.wecom.channel import CHANNEL as WECOM
from bot.channels.wecom.channel import WeComChannel
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.crypto import WeComCrypto
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.core.flow import Action
from bot.core.registry import Entry, Registry
from bot.core.shortcut import StartAction
from bot.core.sweep import Sweep
from bot.db.migrate import upgrade
from bot.db.session import Database
from bot.domain.levels import Role
from bot.engine import BindHook, Engine
from bot.handlers.account.basics import CancelFlow, HelpFlow, LanguageFlow, StatusFlow, StatusSection, identity_section
from bot.handlers.account.invite import InviteFlow
from bot.handlers.account.profile import ProfileFlow
from bot.handlers.broadcasts.flows import AckAction, BroadcastFlow, BroadcastsFlow
from bot.handlers.broadcasts.sweeps import BroadcastDeadlines, BroadcastProgress
from bot.handlers.compliance import charts
from bot.handlers.compliance.dashboard import DashboardFlow, ExportFlow
from bot.handlers.compliance.sweeps import WeeklyDigestSweep
from bot.handlers.compliance.team import NudgeAction, TeamFlow
from bot.handlers.departures.countdowns import CountdownsFlow
from bot.handlers.departures.depart import DepartFlow
from bot.handlers.departures.sweeps import CountdownSweep
from bot.handlers.duties.education import EducationFlow, education_status
from bot.handlers.duties.inventory import InventoryFlow
from bot.handlers.duties.selfcheck import SelfCheckFlow, load_checklist, self_check_status
from bot.handlers.duties.sweeps import EducationSweep, InventorySweep, SelfCheckSweep
from bot.handlers.leak.cases import CasesFlow, OfficerCaseAction
from bot.handlers.leak.report import ReporterAction, ReportFlow
from bot.handlers.leak.sweeps import LeakAlertSweep, LeakClockSweep
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.flows import OnboardingHook, PledgeFlow, PledgeStatus
from bot.handlers.pledges.office import PledgeOfficeFlow
from bot.handlers.quiz.bank import load_bank
from bot.handlers.quiz.flows import QuizFlow, QuizReviewAction, QuizStatsFlow, quiz_status_section
from bot.handlers.quiz.service import BANK_PATH as QUIZ_BANK
from bot.handlers.quiz.sweeps import QuizExpirySweep
from bot.handlers.renewals.actions import SnoozeAction
from bot.handlers.renewals.sweeps import RenewalSweep
from bot.handlers.workday.flows import WorkdayFlow, calendar_status
from bot.jobs.runner import TICK, SweepRunner
from bot.outbox import Dispatcher
from bot.texts import Texts

log = logging.getLogger("baomi")


@dataclass
class Capabilities:
    """What the capabilities contribute, gathered in one place and handed to the engine and the jobs."""

    entries: list[Entry] = field(default_factory=list)  # commands, in the order /help lists them
    status: list[StatusSection] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    on_bind: list[BindHook] = field(default_factory=list)
    registry: Registry | None = None  # built last, from all of the above


def capabilities() -> Capabilities:
    c = Capabilities()
    # --- core: who you are, invitations ---
    c.status.append(identity_section)
    c.entries += [Entry("profile", ProfileFlow()), Entry("invite", InviteFlow())]
    shortcut = StartAction()  # buttons on reminders and nudges that start a command ("签署承诺书")
    c.actions.append(shortcut)
    # --- pledges (保密承诺书) ---
    pledge_book = load_catalog()  # checked at start: a broken catalogue stops the bot, not a signature half-way
    c.entries += [
        Entry("pledge", PledgeFlow(pledge_book), aliases=("承诺",)),
        Entry("depart", DepartFlow()),
        Entry("pledges", PledgeOfficeFlow(pledge_book)),
    ]
    c.status.append(PledgeStatus(pledge_book.catalog))
    c.on_bind.append(OnboardingHook())  # a classified newcomer is asked for the onboarding pledge at once
    # --- end pledges ---
    # --- quiz (保密知识答卷) ---
    bank = load_bank(QUIZ_BANK)  # checked at start: a broken bank stops the bot, not a paper half-way
    c.entries += [
        Entry("quiz", QuizFlow(bank), aliases=("答题",)),
        Entry("quizstats", QuizStatsFlow(bank), instant=True),  # an officer's view: no conversation to keep
    ]
    c.status.append(quiz_status_section)
    c.actions.append(QuizReviewAction())
    c.sweeps.append(QuizExpirySweep())  # closes papers whose time ran out, so /status and the compliance view are right
    # --- end quiz ---
    # --- leak reports (泄密事件报告) ---
    cases = CasesFlow()
    c.entries += [Entry("report", ReportFlow(), aliases=("报告",)), Entry("cases", cases)]
    # 受理/查看 on officers' alerts and 回复 on relayed messages work outside any conversation.
    c.actions += [OfficerCaseAction(cases), ReporterAction()]
    c.sweeps += [LeakAlertSweep(), LeakClockSweep()]  # alerts repeat until acknowledged; statutory clocks
    # --- end leak reports ---
    # --- broadcasts ---
    c.entries += [Entry("broadcast", BroadcastFlow()), Entry("broadcasts", BroadcastsFlow())]
    c.actions.append(AckAction())  # 已阅 on a notice works outside any conversation
    # Progress message and delivery report (also run by the dispatcher as rows finish); deadline lists to heads.
    c.sweeps += [BroadcastProgress(), BroadcastDeadlines()]
    # --- end broadcasts ---
    # --- scheduled duties: education, carrier inventory, self-check, the working-day calendar ---
    c.status += [education_status, self_check_status, calendar_status]
    c.entries += [
        Entry("education", EducationFlow()),
        Entry("inventory", InventoryFlow()),
        Entry("selfcheck", SelfCheckFlow(load_checklist())),
        Entry("countdowns", CountdownsFlow(), instant=True),
        Entry("workday", WorkdayFlow()),
    ]
    c.sweeps += [EducationSweep(), InventorySweep(), SelfCheckSweep(), CountdownSweep()]
    # Renewals: the yearly pledge and quiz asked for when the cycle opens, weekly once overdue, lists to heads.
    c.sweeps.append(RenewalSweep(pledge_book.catalog))
    c.actions.append(SnoozeAction(pledge_book.catalog))  # 稍后提醒 on a weekly reminder
    # --- end scheduled duties ---
    # --- compliance at a glance: who still owes what, per department ---
    c.entries.append(Entry("team", TeamFlow(pledge_book.catalog)))  # a head's department; officers pick one
    c.actions.append(NudgeAction(pledge_book.catalog))  # 催办 under /team: at most once a day per person
    c.entries += [  # the office's views: answered at once, no conversation to keep
        Entry("dashboard", DashboardFlow(pledge_book.catalog), instant=True),
        Entry("export", ExportFlow(pledge_book.catalog), instant=True),
    ]
    c.sweeps.append(WeeklyDigestSweep(pledge_book.catalog))  # officers, the first working day of each week
    # --- end compliance at a glance ---
    # --- always last: status, language, help, cancel ---
    help_flow = HelpFlow()
    c.entries = [
        Entry("status", StatusFlow(c.status), instant=True),
        *c.entries,
        Entry("language", LanguageFlow()),
        Entry("help", help_flow, instant=True),
        Entry("cancel", CancelFlow()),
    ]
    c.registry = help_flow.registry = shortcut.registry = Registry(c.entries, c.actions)
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
    # Each channel is here when it is configured: `baomi run` needs Telegram, `baomi serve` one of the two.
    ptb: Application | None
    telegram: TelegramChannel | None
    wecom: WeComChannel | None = None
    webhook: bool = False  # Telegram's updates are posted to our HTTP server instead of long-polled
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, stop: asyncio.Event) -> None:
        """Migrate, connect, and start the channels, the engine, the dispatcher and the sweeps."""
        await self.db.check()
        await upgrade(self.settings.database_url)
        self.tasks = [asyncio.create_task(self.engine.run(stop), name="engine")]
        if self.ptb is not None and self.telegram is not None:
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
            if not self.webhook:
                # A webhook left by `baomi serve` would make every getUpdates fail.
                await self.ptb.bot.delete_webhook()
                self.tasks.append(asyncio.create_task(self.telegram.poll(stop), name="poll"))
            log.info("started as @%s", self.ptb.bot.username)
        else:
            # python-telegram-bot's JobQueue needs a bot: without Telegram the sweeps tick on their own.
            self.tasks.append(asyncio.create_task(self._tick_sweeps(stop), name="sweeps"))
        if self.wecom is not None:
            await self.wecom.load_windows()
        self.tasks.append(asyncio.create_task(self.dispatcher.run(stop), name="dispatcher"))

    async def register_webhook(self) -> None:
        """Ask Telegram to post updates to our server (once it listens), with the secret it must send back."""
        assert self.ptb is not None and self.settings.telegram_webhook_url is not None
        await self.ptb.bot.set_webhook(
            self.settings.telegram_webhook_url,
            secret_token=self.settings.telegram_webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )

    async def _tick_sweeps(self, stop: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=TICK.total_seconds())
            if stop.is_set():
                return
            await self.jobs.run_all()

    def alive(self, task_name: str) -> bool:
        return any(t.get_name() == task_name and not t.done() for t in self.tasks)

    async def stop(self) -> None:
        """Finish the step and the sends in progress, then close."""
        poll = next((t for t in self.tasks if t.get_name() == "poll"), None)
        if poll is not None:
            poll.cancel()  # a cancelled getUpdates confirms nothing: what it held comes again
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.ptb is not None:
            if self.ptb.running:
                await self.ptb.stop()
            await self.ptb.shutdown()
        if self.wecom is not None:
            await self.wecom.client.close()
        await self.db.dispose()

    def default_commands(self) -> dict[str, list[tuple[str, str]]]:
        staff = frozenset({Role.STAFF})
        return {
            locale: [(e.command, self.texts.render(f"menu/{e.command}", locale)) for e in self.registry.menu(staff)]
            for locale in ("zh", "en")
        }


def build_app(settings: Settings, clock: Clock, serve: bool = False) -> BaomiApp:
    """Wire the configured channels. `baomi run` long-polls Telegram, whose token it needs; `baomi serve` (`serve`)
    takes Telegram by webhook when a webhook URL is set (else it polls too) and WeCom when its five settings are."""
    if not serve:
        settings.require_token()
    elif not settings.telegram_token and settings.wecom is None:
        raise ConfigError("no channel configured: set BAOMI_TELEGRAM_TOKEN or the five BAOMI_WECOM_* settings")
    db = Database(settings.database_url)
    texts = Texts(settings.timezone)
    caps = capabilities()
    registry = caps.registry
    assert registry is not None
    dispatcher = Dispatcher(db, clock, draw_chart=charts.draw)
    engine = Engine(db, clock, settings.policy, texts, registry, on_outbox=dispatcher.wake, bind_hooks=caps.on_bind)
    # With WeCom, its accounts named in the roster are bound first, so that the duties' sweeps reach them.
    sweeps = [RosterBindingSweep(WECOM), *caps.sweeps] if settings.wecom is not None else caps.sweeps
    jobs = SweepRunner(db, clock, settings.policy, texts, settings.timezone, sweeps, on_outbox=dispatcher.wake)
    dispatcher.on_recorded.append(jobs.follow)  # sweeps that follow deliveries (a broadcast's progress) run at once
    # A channel feeds the engine's inbox and performs the dispatcher's rows.
    ptb: Application | None = None
    telegram: TelegramChannel | None = None
    if settings.telegram_token:
        builder = Application.builder().token(settings.telegram_token).base_url(settings.telegram_api_url)
        ptb = builder.request(AiohttpRequest()).updater(None).build()
        telegram = TelegramChannel(ptb.bot, db, clock, on_inbox=engine.wake, limits=limits(settings.telegram_rate))
        engine.parsers[telegram.name] = telegram
        dispatcher.add_sender(telegram)
    wecom: WeComChannel | None = None
    if settings.wecom is not None:
        try:
            crypto = WeComCrypto(settings.wecom.token, settings.wecom.aes_key, settings.wecom.corp_id)
        except ValueError as exc:
            raise ConfigError(f"BAOMI_WECOM_TOKEN / BAOMI_WECOM_AES_KEY: {exc}") from exc
        wecom = WeComChannel(WeComClient(settings.wecom, clock), crypto, db, clock, on_inbox=engine.wake)
        engine.parsers[wecom.name] = wecom
        dispatcher.add_sender(wecom)
    webhook = serve and telegram is not None and settings.telegram_webhook_url is not None
    return BaomiApp(settings, clock, db, texts, registry, engine, dispatcher, jobs, ptb, telegram, wecom, webhook)
