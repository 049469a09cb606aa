"""A burst of 200 messages from 50 people, the bot SIGKILLed in the middle and restarted: every message is
answered exactly once. Then SIGTERM: the bot finishes and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bot.clock import SettableClock
from bot.db.models import InboxEvent, OutboxMessage
from bot.db.session import Database
from bot.testing.fake_bot_api import FakeBotApi
from bot.testing.seed import seed_bound_staff
from tests.fakes.harness import TOKEN

USERS = 50
PER_USER = 4
MESSAGES = ["/status", "你好", "/help", "/cancel"]


async def start_bot(api: FakeBotApi, db_url: str, workdir: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "BAOMI_DATABASE_URL": db_url,
        "BAOMI_TELEGRAM_TOKEN": TOKEN,
        "BAOMI_TELEGRAM_API_URL": api.base_url,
        "BAOMI_LOG_LEVEL": "INFO",
        # Pacing is not what this test is about: 100 a second keeps the burst short and the kill mid-way.
        "BAOMI_TELEGRAM_RATE": "100",
        # On PostgreSQL the restarted bot recovers the killed one's rows in flight once a send could have ended.
        "BAOMI_SEND_TIMEOUT": "2",
    }
    with (workdir / "bot.log").open("a") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=workdir, stderr=log
        )
    await api.wait_for(lambda a: a.is_polling, timeout=30)
    return proc


async def test_kill_mid_burst_answers_every_message_exactly_once(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock, tmp_path: Path
) -> None:
    await seed_bound_staff(db, clock.now(), USERS, department="考试院", prefix="K")
    proc = await start_bot(api, db_url, tmp_path)
    for round_ in range(PER_USER):
        for user in range(1, USERS + 1):
            await api.send_text(user, MESSAGES[round_], first_name=f"人员{user}")
    await api.wait_for(lambda a: a.bot_messages_sent >= USERS * PER_USER // 2, timeout=60)
    proc.kill()
    assert await proc.wait() == -signal.SIGKILL
    killed_at = api.bot_messages_sent
    assert killed_at < USERS * PER_USER  # the kill really fell in the middle

    proc = await start_bot(api, db_url, tmp_path)
    await api.wait_for(lambda a: a.bot_messages_sent >= USERS * PER_USER, timeout=60)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0

    replies = Counter(
        m["chat"]["id"] for chat in range(1, USERS + 1) for m in api.chat(chat) if m.get("from", {}).get("is_bot")
    )
    assert replies == Counter({chat: PER_USER for chat in range(1, USERS + 1)})
    assert api.bot_messages_sent == USERS * PER_USER
    async with db.sessions() as s:
        inbox = Counter((await s.scalars(select(InboxEvent.status))).all())
        outbox = Counter((await s.scalars(select(OutboxMessage.status).where(OutboxMessage.op == "send"))).all())
    assert inbox == {"done": USERS * PER_USER}
    assert outbox == {"sent": USERS * PER_USER}
