"""`baomi console`: the real bot against the built-in fake Bot API, in this process, chatted with in the
terminal as a chosen member of staff. Buttons are shown as numbered choices. No Telegram account needed."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from bot.app import BaomiApp, build_app
from bot.channels.telegram.channel import CHANNEL as TELEGRAM
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, sqlite_url
from bot.core.cli import CliEnv
from bot.db.migrate import upgrade
from bot.db.models import Binding, Department, InboxEvent, Staff
from bot.db.session import Database
from bot.services.invitations import issue_for
from bot.services.roster import import_roster, read_roster
from bot.testing.fake_bot_api import ChatEvent, FakeBotApi
from bot.texts import MESSAGES

DEMO_DB = "baomi-demo.db"
DEMO_ROSTER = MESSAGES / "demo" / "roster.csv"
CONSOLE_USER_BASE = 10_000  # fake Telegram user ids: base + staff id


def console_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo", action="store_true", help=f"seed a demo organisation into ./{DEMO_DB} and use it")
    parser.add_argument("--as", dest="as_employee", metavar="EMPLOYEE_ID", help="whom to chat as")
    parser.add_argument("--script", type=Path, help="read the lines to type from this file instead of the keyboard")


async def console(env: CliEnv, args: argparse.Namespace) -> int:
    """The real bot against the built-in fake Telegram, chatted with in this terminal."""
    settings = env.settings
    if args.demo:
        settings = replace(settings, database_url=sqlite_url(Path.cwd() / DEMO_DB))
    await upgrade(settings.database_url)
    # The bot keeps the update ids it has taken: the fake goes on from the last one, or what is typed first would be
    # taken for updates already seen and dropped.
    api = FakeBotApi(
        token="100000:CONSOLE", bot_username="baomi_console_bot", first_update_id=await next_update_id(settings)
    )
    await api.start()
    settings = replace(settings, telegram_token=api.token, telegram_api_url=api.base_url)
    stop = asyncio.Event()
    app = build_app(settings, SystemClock())
    try:
        if args.demo:
            await seed_demo(app)
        await app.start(stop)
        session = ConsoleSession(api, app, sys.stdout)
        if not await session.switch(args.as_employee or await session.choose()):
            return 1
        lines = args.script.read_text(encoding="utf-8").splitlines() if args.script else None
        await session.loop(lines)
    finally:
        stop.set()
        await app.stop()
        await api.stop()
    return 0


async def next_update_id(settings: Settings) -> int:
    """One past the last Telegram update this database has taken (1 for a new one)."""
    db = Database(settings.database_url)
    try:
        async with db.sessions() as s:
            last = await s.scalar(
                select(InboxEvent.dedupe_key)
                .where(InboxEvent.channel == TELEGRAM)
                .order_by(InboxEvent.id.desc())
                .limit(1)
            )
    finally:
        await db.dispose()
    return int(last) + 1 if last and last.isdigit() else 1


async def seed_demo(app: BaomiApp) -> None:
    async with app.db.transaction() as s:
        if await s.scalar(select(Staff.id).limit(1)) is None:
            await import_roster(s, read_roster(DEMO_ROSTER), app.clock.now(), app.texts.timezone)


class ConsoleSession:
    def __init__(self, api: FakeBotApi, app: BaomiApp, out: TextIO) -> None:
        self.api = api
        self.app = app
        self.out = out
        self.user_id: int | None = None
        self.latest_buttons: tuple[int, list[tuple[str, str]]] | None = None
        api.add_listener(self.show)

    def print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def t(self, template: str, /, **context: Any) -> str:
        """The console's own words (messages/console/), in the bot's default language."""
        return self.app.texts.render(template, **context)

    def show(self, event: ChatEvent) -> None:
        if event.chat_id != self.user_id or event.kind not in ("sent", "edited", "callback_answer"):
            return
        if event.kind == "callback_answer":
            if event.data.get("text"):
                self.print(f"  ({event.data['text']})")
            return
        message = event.data
        label = "🤖" if event.kind == "sent" else f"🤖 {self.t('console/edited')}"
        body = message.get("text") or message.get("caption") or ""
        if message.get("document"):
            body = f"{self.t('console/file', name=message['document'].get('file_name', ''))}\n{body}"
        if message.get("photo"):
            body = f"{self.t('console/photo')}\n{body}"
        self.print(f"\n{label} " + body.replace("\n", "\n   "))
        buttons = self.api.buttons(message)
        if buttons:
            self.latest_buttons = (message["message_id"], buttons)
            self.print("   " + "  ".join(f"[{i}] {text}" for i, (text, _) in enumerate(buttons, 1)))
        elif self.latest_buttons and self.latest_buttons[0] == message["message_id"]:
            self.latest_buttons = None  # edited without its buttons: a number typed now goes to the bot as text

    async def people(self) -> list[tuple[str, str, str]]:
        async with self.app.db.sessions() as s:
            rows = (
                await s.execute(
                    select(Staff.employee_id, Staff.name, Department.name)
                    .join(Department, Staff.department_id == Department.id)
                    .where(Staff.active.is_(True))
                    .order_by(Staff.employee_id)
                )
            ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    async def choose(self) -> str:
        people = await self.people()
        if not people:
            raise ConfigError("the roster is empty: run `baomi roster import FILE` first, or use --demo")
        self.print(self.t("console/choose", people=people))
        while True:
            answer = (await read_line(self.t("console/prompt") + " ")).strip()
            if answer in (":q", ":quit"):
                raise ConfigError("no one chosen")
            if answer.isdigit() and 1 <= int(answer) <= len(people):
                return people[int(answer) - 1][0]
            if any(p[0] == answer for p in people):
                return answer

    async def switch(self, employee_id: str) -> bool:
        """Chat as this person, binding their fake account with a real invitation code if needed."""
        async with self.app.db.transaction() as s:
            staff = await s.scalar(select(Staff).where(Staff.employee_id == employee_id))
            if staff is None or not staff.active:
                self.print(self.t("console/not_in_post", employee_id=employee_id))
                return False
            user_id = CONSOLE_USER_BASE + staff.id
            bound = await s.scalar(
                select(Binding.id).where(Binding.channel == TELEGRAM, Binding.channel_user_id == str(user_id))
            )
            code = None if bound else (await issue_for(s, staff.id, self.app.clock.now(), 1)).code
        self.user_id = user_id
        self.latest_buttons = None
        self.print("\n" + self.t("console/now_as", name=staff.name, employee_id=employee_id))
        if code:
            await self.type(f"/start {code}")
        return True

    async def type(self, line: str) -> None:
        assert self.user_id is not None
        self.print(f"\n👤 {line}")
        await self.api.send_text(self.user_id, line, first_name="控制台", language_code="zh-hans")
        await self.settle()

    async def settle(self) -> None:
        from bot.testing.settle import settle

        await settle(self.api, self.app)

    async def loop(self, lines: list[str] | None) -> None:
        source: Callable[[], Coroutine[Any, Any, str]]
        if lines is not None:
            feed = iter(lines)

            async def next_line() -> str:
                return next(feed, ":q")

            source = next_line
        else:

            async def ask() -> str:
                return await read_line("> ")

            source = ask
        while True:
            line = (await source()).strip()
            if not line:
                continue
            if line in (":q", ":quit"):
                return
            await self.command(line)

    async def command(self, line: str) -> None:
        assert self.user_id is not None
        if line.startswith(":as "):
            await self.switch(line[4:].strip())
        elif line == ":who":
            self.print(self.t("console/who", people=await self.people()))
        elif line == ":photo":
            self.print(f"\n👤 {self.t('console/photo')}")
            await self.api.send_photo(self.user_id)
            await self.settle()
        elif line == ":file":
            name = self.t("console/sample_file")
            self.print(f"\n👤 {self.t('console/file', name=name)}")
            await self.api.send_document(self.user_id, file_name=name)
            await self.settle()
        elif line.isdigit() and self.latest_buttons:
            message_id, buttons = self.latest_buttons
            index = int(line) - 1
            if 0 <= index < len(buttons):
                self.print(f"\n👤 {self.t('console/pressed', label=buttons[index][0])}")
                try:
                    await self.api.press(self.user_id, message_id, buttons[index][1])
                except LookupError:  # the message lost that button meanwhile (edited, or deleted)
                    self.latest_buttons = None
                    self.print(self.t("console/no_button", number=line))
                    return
                await self.settle()
            else:
                self.print(self.t("console/no_button", number=line))
        else:
            await self.type(line)


async def read_line(prompt: str) -> str:
    try:
        return await asyncio.get_running_loop().run_in_executor(None, input, prompt)
    except EOFError:
        return ":q"
