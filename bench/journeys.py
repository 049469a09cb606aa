"""Messages and taps per main journey, on the in-process channel with the demo roster: how many messages a person
receives and how many things they do (a tap or a typed line) to finish each journey. Run it in two checkouts to
compare (the README's figures: before and after issue 18):

    PYTHONPATH=. python bench/journeys.py

Each journey drives only what both versions have (a button by its label, a typed line), so the same script measures
either; what it cannot find it says.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update

from bot.clock import SettableClock
from bot.db.migrate import upgrade
from bot.db.models import Staff
from bot.services.roster import import_roster, read_roster
from bot.texts import MESSAGES
from tests.fakes.local import Chat, LocalBot, local_bot

TZ = ZoneInfo("Asia/Shanghai")


class Count:
    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.start = len(chat.bot_messages)
        self.taps = 0

    async def send(self, text: str) -> None:
        self.taps += 1
        await self.chat.send(text)

    async def press(self, label: str) -> None:
        self.taps += 1
        await self.chat.press(label)

    @property
    def messages(self) -> int:
        return len(self.chat.bot_messages) - self.start


async def onboarding(bot: LocalBot) -> tuple[int, int]:
    """A newcomer redeems the code and signs the onboarding pledge."""
    chat = bot.chat()
    count = Count(chat)
    from bot.services.invitations import issue_for

    async with bot.app.db.transaction() as s:
        code = (await issue_for(s, await bot.staff_id("E003"), bot.clock.now(), 14)).code
    await count.send(f"/start {code}")
    await count.send("/pledge")
    word = chat.t("pledge/word", key="next")
    while word in chat.labels(chat.last_with_buttons):
        await count.press(word)
    await count.press(chat.t("pledge/word", key="agree"))
    await count.send("张伟")
    return count.messages, count.taps


async def quiz(bot: LocalBot) -> tuple[int, int]:
    """A member of staff takes the quiz (answers as they come, whatever the result)."""
    chat = await bot.bind("E102")
    flow = bot.app.registry.flows["quiz"]
    flow.rng = random.Random(7)  # type: ignore[attr-defined]  # the same paper in both checkouts
    count = Count(chat)
    await count.send("/quiz")
    await count.press(chat.t("quiz/btn_start"))
    for _ in range(40):
        labels = chat.labels(chat.last_with_buttons) if chat.last.buttons else []
        if not labels:
            break
        if chat.t("quiz/btn_submit") in labels:
            await count.press(labels[0])
            await count.press(chat.t("quiz/btn_submit"))
        else:
            await count.press(labels[0])
    return count.messages, count.taps


async def typed_help(bot: LocalBot) -> tuple[int, int]:
    """Someone types 帮助 (help) without the slash and gets to the list of what they can do."""
    chat = await bot.bind("E103")
    count = Count(chat)
    await count.send("帮助")
    if "/status" not in chat.last["text"]:  # not understood: they have to find /help
        await count.send("/help")
    return count.messages, count.taps


async def head_october_morning(bot: LocalBot) -> tuple[int, int]:
    """What a head receives on the first working day of October (self-check, renewals, their team's list…)."""
    head = await bot.bind("E101")
    count = Count(head)
    await bot.sweep(datetime(2026, 10, 8, 9, 5, tzinfo=TZ))
    return count.messages, count.taps


async def officer_alert_night(bot: LocalBot) -> tuple[int, int]:
    """An officer with a leak report nobody accepts from 22:00 to 08:00: messages until they tap 受理."""
    officer = await bot.bind("E002")
    await bot.bind("E203")
    bot.clock.set(datetime(2026, 3, 2, 22, 0, tzinfo=TZ))
    from bot.handlers.leak import service as leak
    from bot.handlers.leak.notices import open_case

    report = leak.Report(
        kind=leak.Kind.TALK,
        whose=leak.Whose.MINE,
        discovered=leak.Discovered.NOW,
        discovered_on=bot.clock.now().date(),
        place="会议室",
        carrier=leak.Carrier.TALK,
        carrier_count=None,
        level=leak.Marked.SECRET,
        measures=(),
    )
    async with bot.app.db.transaction() as s:
        await open_case(s, bot.clock.now(), bot.app.texts, bot.app.settings.policy, await bot.staff_id("E203"), report)
    await bot.settle()
    count = Count(officer)
    count.start = len(officer.bot_messages) - 1  # the alert card itself counts
    for minute in range(15, 10 * 60 + 1, 15):
        bot.clock.set(datetime(2026, 3, 2, 22, 0, tzinfo=TZ) + timedelta(minutes=minute))
        await bot.sweep()
    ack = officer.t("report/label", key="btn.ack")
    card = next(m for m in reversed(officer.bot_messages) if ack in [b[0] for row in m.buttons for b in row])
    count.taps += 1
    await officer.press(ack, card)
    return count.messages, count.taps


async def head_nudges(bot: LocalBot) -> tuple[int, int]:
    """A head reminds their department of the pledge and the quiz; returns (messages one person receives, taps)."""
    head = await bot.bind("E201")
    huang = await bot.bind("E202")
    await bot.bind("E203")
    count = Count(head)
    before = len(huang.bot_messages)
    await count.send("/team")
    for message in list(reversed(head.bot_messages))[:1]:
        for label in [b[0] for row in message.buttons for b in row if "催办" in b[0]]:
            count.taps += 1
            await head.press(label, message)
    return len(huang.bot_messages) - before, count.taps


JOURNEYS: list[tuple[str, Callable[[LocalBot], Awaitable[tuple[int, int]]]]] = [
    ("newcomer binds and signs the onboarding pledge", onboarding),
    ("staff takes the quiz", quiz),
    ("types 帮助 and reaches the list of commands", typed_help),
    ("a head's first working day of October (messages received)", head_october_morning),
    ("an unaccepted leak alert, 22:00–08:00, then 受理 (officer's messages)", officer_alert_night),
    ("a head's 催办 of pledge and quiz (messages to one person; head's taps)", head_nudges),
]


async def main() -> None:
    for name, journey in JOURNEYS:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'j.db'}"
            await upgrade(url)
            clock = SettableClock(datetime(2026, 3, 2, 9, 30, tzinfo=TZ))
            async with local_bot(url, clock) as bot:
                async with bot.app.db.transaction() as s:
                    await import_roster(s, read_roster(MESSAGES / "demo" / "roster.csv"), clock.now(), TZ)
                    await s.execute(update(Staff).where(Staff.employee_id == "E302").values(is_leader=True))
                try:
                    messages, taps = await journey(bot)
                    print(f"{name}: {messages} messages, {taps} taps/typed lines")
                except Exception as exc:
                    print(f"{name}: not measured ({type(exc).__name__}: {exc})", file=sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
