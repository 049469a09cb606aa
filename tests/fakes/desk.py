"""The web console as `baomi serve` runs it, with Telegram long-polling the fake Bot API: people ask for a sign-in
link in the chat and open it over HTTP (or in Chromium)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

from bot.app import BaomiApp, build_app
from bot.clock import Clock
from bot.config import Policy, Settings
from bot.handlers.leak import service as leak
from bot.handlers.leak.notices import open_case
from bot.handlers.leak.service import CaseInfo
from bot.server import Server
from bot.services import people
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import TZ
from tests.fakes.harness import TOKEN, Chat, bind

LINK = re.compile(r"https?://\S+/console/login\?token=\S+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Desk:
    api: FakeBotApi
    app: BaomiApp
    server: Server
    users: int = 1000
    chats: dict[str, Chat] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    async def chat(self, employee_id: str) -> Chat:
        """This person's chat, bound the first time."""
        if employee_id not in self.chats:
            self.users += 1
            self.chats[employee_id] = await bind(self.api, self.app, employee_id, self.users)
        return self.chats[employee_id]

    async def link(self, chat: Chat) -> str:
        """Send /console and return the link in the answer."""
        answer = await chat.send("/console")
        found = LINK.search(answer["text"])
        assert found is not None, answer["text"]
        return found.group(0)

    async def open_case(self, employee_id: str, withheld: bool = False) -> CaseInfo:
        """A leak case reported by this person, as the report flow opens one (the officers are alerted)."""
        report = leak.Report(
            kind=leak.Kind.CARRIER_LOST,
            whose=leak.Whose.MINE,
            discovered=leak.Discovered.NOW,
            discovered_on=self.app.clock.now().astimezone(TZ).date(),
            place="档案室",
            carrier=leak.Carrier.PAPER,
            carrier_count=1,
            level=leak.Marked.SECRET,
            name_withheld=withheld,
        )
        async with self.app.db.transaction() as s:
            person = await people.by_employee_id(s, employee_id)
            assert person is not None
            case = await open_case(s, self.app.clock.now(), self.app.texts, self.app.settings.policy, person.id, report)
        self.app.dispatcher.wake()
        return case

    async def signed_in(self, employee_id: str) -> tuple[aiohttp.ClientSession, Chat]:
        """An HTTP client with the console's cookie of this person (the caller closes it)."""
        chat = await self.chat(employee_id)
        link = await self.link(chat)
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with http.get(link, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
        return http, chat


@asynccontextmanager
async def desk(api: FakeBotApi, db_url: str, clock: Clock, policy: Policy | None = None) -> AsyncIterator[Desk]:
    port = free_port()
    settings = Settings(
        database_url=db_url,
        timezone=TZ,
        telegram_token=TOKEN,
        telegram_api_url=api.base_url,
        policy=policy or Policy(),
        public_url=f"http://127.0.0.1:{port}",
    )
    app = build_app(settings, clock, serve=True)
    app.migrated = True  # the fixtures build every database with Alembic
    stop = asyncio.Event()
    server = Server(app)
    await server.start("127.0.0.1", port)
    await app.start(stop)
    try:
        yield Desk(api, app, server)
    finally:
        stop.set()
        await server.stop()
        await app.stop()
