"""The fast harness for flow and sweep tests: the real bot (engine, flows, outbox, dispatcher, sweeps, database) on
the in-process channel (bot/channels/local.py). A chat reads like a transcript:

    head = await bot.bind("E201")
    await head.send("/education")
    await head.press("✓ 周杰")
    assert head.last["text"] == head.t("education/saved", count=2, day=...)

Nothing runs in the background: each step stores the person's event, runs the engine on what is pending and
performs what is due, so a test is deterministic and costs no HTTP. Time moves only with the test's clock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.app import BaomiApp, build_app
from bot.channels import local
from bot.channels.local import LocalChannel, Message
from bot.clock import SettableClock
from bot.config import Policy, Settings
from bot.core.events import AttachmentKind
from bot.db.models import Staff
from bot.services.invitations import issue_for
from bot.texts import Texts
from tests.conftest import IN_STRIDE, TZ


class LocalBot:
    def __init__(self, app: BaomiApp) -> None:
        self.app = app
        channel = app.channels[local.CHANNEL]
        assert isinstance(channel, LocalChannel)
        self.channel = channel
        self._users = itertools.count(1)

    @property
    def clock(self) -> SettableClock:
        assert isinstance(self.app.clock, SettableClock)
        return self.app.clock

    @property
    def texts(self) -> Texts:
        return self.app.texts

    async def settle(self) -> None:
        """Process every pending event and perform every operation due now. Only the test writes to the inbox,
        and the dispatcher drains until nothing is due, so one pass of each settles it."""
        async with asyncio.timeout(30):
            await self.app.engine.process_pending()
            await self.app.dispatcher.drain()

    async def sweep(self, at: datetime | None = None) -> dict[str, int]:
        """Move the clock to `at` (if given), run every sweep once, and deliver what they queued."""
        if at is not None:
            self.clock.set(at)
        done = await self.app.jobs.run_all()
        await self.settle()
        return done

    def chat(self, user: str | None = None, locale: str = "zh") -> Chat:
        """A person's chat with the bot (a new account unless `user` is given)."""
        return Chat(self, user or f"u{next(self._users)}", locale)

    async def bind(self, employee_id: str, locale: str = "zh") -> Chat:
        """A member of staff redeems an invitation code, as a newcomer would."""
        async with self.app.db.transaction() as s:
            staff = await s.scalar(select(Staff).where(Staff.employee_id == employee_id))
            assert staff is not None, employee_id
            code = (await issue_for(s, staff.id, self.clock.now(), 14)).code
        chat = self.chat(locale=locale)
        await chat.send(f"/start {code}")
        return chat

    async def staff_id(self, employee_id: str) -> int:
        async with self.app.db.sessions() as s:
            found = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
        assert found is not None, employee_id
        return found


class Chat:
    def __init__(self, bot: LocalBot, user: str, locale: str = "zh") -> None:
        self.bot = bot
        self.user = user
        self.locale = locale
        self.texts = bot.texts
        self.last_press: str | None = None

    def t(self, name: str, /, **context: Any) -> str:
        return self.texts.render(name, self.locale, **context)

    @property
    def app(self) -> BaomiApp:
        return self.bot.app

    # --- doing ------------------------------------------------------------------------------------------------
    async def send(self, text: str) -> Message:
        """Write a text or a command; returns the bot's latest message once everything has settled."""
        await self.bot.channel.type(self.user, text)
        await self.bot.settle()
        return self.last

    async def press(self, label: str, message: Message | None = None) -> Message:
        """Press the button with this label on `message` (default: the latest bot message with buttons)."""
        target = message or self.last_with_buttons
        data = dict(self.buttons(target)).get(label)
        if data is None:
            raise AssertionError(f"no button {label!r} in {self.buttons(target)}")
        self.last_press = await self.bot.channel.press(self.user, target.message_id, data)
        await self.bot.settle()
        return self.last

    async def tap(self, data: str, message: Message | None = None) -> str:
        """Press a button by its payload without waiting for the bot (a double tap is two taps, then a settle);
        returns the press id, for `answer`."""
        target = message or self.last_with_buttons
        self.last_press = await self.bot.channel.press(self.user, target.message_id, data)
        return self.last_press

    async def settle(self) -> None:
        await self.bot.settle()

    async def attach(self, kind: AttachmentKind) -> Message:
        """Send a picture, a file, a forwarded message…; returns the person's message."""
        sent = await self.bot.channel.attach(self.user, kind)
        await self.bot.settle()
        return sent

    # --- seeing -----------------------------------------------------------------------------------------------
    @property
    def messages(self) -> list[Message]:
        return list(self.bot.channel.chat(self.user).messages)

    @property
    def bot_messages(self) -> list[Message]:
        return [m for m in self.messages if m.from_bot]

    @property
    def last(self) -> Message:
        messages = self.bot_messages
        if not messages:
            raise AssertionError("the bot has said nothing in this chat")
        return messages[-1]

    @property
    def last_with_buttons(self) -> Message:
        for m in reversed(self.bot_messages):
            if m.buttons:
                return m
        raise AssertionError("no bot message with buttons")

    def message(self, message_id: int) -> Message | None:
        """A message as it stands now (None: deleted)."""
        return self.bot.channel.chat(self.user).find(message_id)

    def buttons(self, message: Message | None = None) -> list[tuple[str, str]]:
        return [button for row in (message or self.last).buttons for button in row]

    def labels(self, message: Message | None = None) -> list[str]:
        return [label for label, _ in self.buttons(message)]

    def answer(self, press_id: str | None = None) -> str | None:
        """The notice shown on a pressed button (default: the last pressed): "" none, None the press was not
        answered."""
        press_id = press_id or self.last_press
        assert press_id is not None, "no button pressed"
        return self.bot.channel.chat(self.user).answers.get(press_id)

    @property
    def menu(self) -> list[str] | None:
        return self.bot.channel.chat(self.user).menu

    def file(self, message: Message) -> bytes:
        assert message.file is not None, "the message carries no file"
        return message.file[1]


@asynccontextmanager
async def local_bot(db_url: str, clock: SettableClock, policy: Policy | None = None) -> AsyncIterator[LocalBot]:
    """The bot on the in-process channel only, its database migrated; nothing runs in the background. Without a
    policy, one for a bureau in its stride (IN_STRIDE): no launch grace."""
    settings = Settings(database_url=db_url, timezone=TZ, policy=policy or IN_STRIDE)
    app = build_app(settings, clock, channels=(local.configure,))
    app.migrated = True  # the fixtures build every database with Alembic
    try:
        yield LocalBot(app)
    finally:
        await app.db.dispose()
