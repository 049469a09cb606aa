"""End-to-end harness: the real bot (python-telegram-bot Application, engine, dispatcher, database) against
the project's fake Bot API over loopback, and a chat driver that reads like a transcript."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from bot.app import BaomiApp, build_app
from bot.clock import Clock
from bot.config import Policy, Settings
from bot.db.models import Staff
from bot.services.invitations import issue_for_unbound
from bot.testing.fake_bot_api import FakeBotApi
from bot.testing.settle import settle
from bot.texts import Texts
from tests.conftest import IN_STRIDE, TZ

TOKEN = "123456:TEST-TOKEN"


@asynccontextmanager
async def fake_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi(token=TOKEN, bot_username="baomi_test_bot")
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@asynccontextmanager
async def running_bot(
    api: FakeBotApi, db_url: str, clock: Clock, policy: Policy | None = None, rate: float = 0.0
) -> AsyncIterator[BaomiApp]:
    """The bot talking to `api`. Its own pacing is lifted unless a `rate` is given: a second between two messages
    to a chat would make every conversation of the suite wait in real time; the pacing tests set it."""
    settings = Settings(
        database_url=db_url,
        timezone=TZ,
        telegram_token=TOKEN,
        telegram_api_url=api.base_url,
        policy=policy or IN_STRIDE,
        telegram_rate=rate,
    )
    app = build_app(settings, clock)
    app.migrated = True  # the fixtures build every database with Alembic
    stop = asyncio.Event()
    await app.start(stop)
    try:
        yield app
    finally:
        stop.set()
        await app.stop()


class Chat:
    """One person talking to the bot: `await chat.send("/help")`, `await chat.press("同意")`, `chat.last`."""

    def __init__(self, api: FakeBotApi, app: BaomiApp, user_id: int, locale: str = "zh") -> None:
        self.api = api
        self.app = app
        self.user_id = user_id
        self.locale = locale
        self.texts: Texts = app.texts

    def t(self, name: str, /, **context: Any) -> str:
        return self.texts.render(name, self.locale, **context)

    async def send(self, text: str) -> dict[str, Any]:
        """Send a text or command and return the bot's latest message once everything has settled."""
        await self.api.send_text(self.user_id, text, first_name="测试", language_code="zh-hans")
        await settle(self.api, self.app)
        return self.last

    async def press(self, label: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        """Press the button with this label on `message` (default: the latest bot message with buttons)."""
        target = message or self.last_with_buttons
        data = dict(self.api.buttons(target)).get(label)
        if data is None:
            raise AssertionError(f"no button {label!r} in {self.api.buttons(target)}")
        await self.api.press(self.user_id, target["message_id"], data)
        await settle(self.api, self.app)
        return self.last

    async def tap(self, data: str, message: dict[str, Any] | None = None) -> str:
        """Press a button by its payload without waiting for the bot; returns the callback query id."""
        target = message or self.last_with_buttons
        return await self.api.press(self.user_id, target["message_id"], data)

    async def settle(self) -> None:
        await settle(self.api, self.app)

    def answer(self, query_id: str) -> str | None:
        """The notice shown on a pressed button ("" none; None: the press was not answered)."""
        found = self.api.callback_answer(query_id)
        return None if found is None else found.get("text") or ""

    def message(self, message_id: int) -> dict[str, Any] | None:
        return self.api.message(self.user_id, message_id)

    def buttons(self, message: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        return self.api.buttons(message or self.last)

    def file(self, message: dict[str, Any]) -> bytes:
        file_id = message["document"]["file_id"] if "document" in message else message["photo"][-1]["file_id"]
        return self.api.file(file_id).data

    @property
    def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.api.chat(self.user_id) if m.get("from", {}).get("is_bot")]

    @property
    def last(self) -> dict[str, Any]:
        messages = self.bot_messages
        if not messages:
            raise AssertionError("the bot has said nothing in this chat")
        return messages[-1]

    @property
    def last_with_buttons(self) -> dict[str, Any]:
        for m in reversed(self.bot_messages):
            if self.api.buttons(m):
                return m
        raise AssertionError("no bot message with buttons")

    def labels(self, message: dict[str, Any] | None = None) -> list[str]:
        return [label for label, _ in self.api.buttons(message or self.last)]


async def bind(api: FakeBotApi, app: BaomiApp, employee_id: str, user_id: int) -> Chat:
    """Issue a code for the person and redeem it over the chat, as a new member of staff would."""
    async with app.db.transaction() as s:
        staff = await s.scalar(select(Staff).where(Staff.employee_id == employee_id))
        assert staff is not None, employee_id
        issued = {i.employee_id: i.code for i in await issue_for_unbound(s, app.clock.now(), 14)}
    chat = Chat(api, app, user_id)
    await chat.send(f"/start {issued[employee_id]}")
    return chat
