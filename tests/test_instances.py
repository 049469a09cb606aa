"""Two `baomi serve` instances on one PostgreSQL database, each in its own process, with the fake WeCom and the fake
Bot API (Telegram by webhook): callbacks and updates go to either, one instance leads, and the leader SIGKILLed in
the middle of a broadcast is replaced by the other, which finishes it with nobody missed or told twice.

50 people × 10 messages on WeCom, a broadcast to 150 on Telegram."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update

from bot.channels.telegram.channel import SECRET_HEADER
from bot.channels.telegram.channel import WEBHOOK_PATH as TELEGRAM_PATH
from bot.channels.wecom.channel import CALLBACK_PATH as WECOM_PATH
from bot.cli import run_command
from bot.clock import SettableClock, SystemClock
from bot.config import Settings
from bot.core.supervise import no_pulse
from bot.db.models import Leadership, OutboxMessage, Staff
from bot.db.session import Database, NotLeader
from bot.testing.fake_wecom import FakeWeCom
from bot.testing.seed import seed_bound_staff
from tests.conftest import TZ
from tests.fakes.harness import TOKEN, fake_api
from tests.fakes.local import LocalBot

PEOPLE = 50  # on WeCom, each sending MESSAGES alternately to either instance
MESSAGES = 10
RECIPIENTS = 150  # of the broadcast, on Telegram
SECRET = "s" * 32
WEBHOOK_URL = "https://baomi.example.org/telegram/webhook"


class Instance:
    def __init__(self, proc: asyncio.subprocess.Process, port: int, logging: asyncio.Task[None]) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"
        self.logging = logging  # ends when the process does

    async def health(self) -> dict[str, str]:
        async with aiohttp.ClientSession() as http, http.get(self.url + "/healthz") as response:
            return dict(await response.json())


async def start(env: dict[str, str], workdir: Path, name: str) -> Instance:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", "0", env=env, cwd=workdir, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        while b"serving on" not in (line := await proc.stderr.readline()):
            assert line, f"{name} exited before listening"
    port = int(line.decode().rsplit(":", 1)[1])

    async def keep_log() -> None:  # read on, or a full pipe would stop the process
        assert proc.stderr is not None
        with (workdir / f"{name}.log").open("ab") as log:
            while line := await proc.stderr.readline():
                log.write(line)

    return Instance(proc, port, asyncio.create_task(keep_log()))


@pytest.fixture
def pg_url(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        pytest.skip("several instances need PostgreSQL")
    return db_url


async def test_two_instances_lead_once_and_fail_over(pg_url: str, db: Database, tmp_path: Path) -> None:
    clock = SystemClock()
    now = clock.now()
    await seed_bound_staff(db, now, PEOPLE, department="办公室", prefix="W", channel="wecom")
    await seed_bound_staff(db, now, RECIPIENTS, department="考试院", prefix="T")
    async with db.transaction() as s:
        officer = Staff(
            employee_id="E001",
            name="保密员",
            department_id=1,
            level="general",
            is_head=False,
            is_officer=True,
            active=True,
            locale="zh",
            created_at=now,
            updated_at=now,
        )
        s.add(officer)
    async with fake_api() as api, FakeWeCom(clock) as wecom:
        for person in range(1, RECIPIENTS + 1):
            await api.send_text(person, "/start")  # Telegram sends only to those who have opened the chat
        env = {
            **os.environ,
            "BAOMI_DATABASE_URL": pg_url,
            "BAOMI_TELEGRAM_TOKEN": TOKEN,
            "BAOMI_TELEGRAM_API_URL": api.base_url,
            "BAOMI_TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
            "BAOMI_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "BAOMI_WECOM_CORP_ID": wecom.corp_id,
            "BAOMI_WECOM_AGENT_ID": str(wecom.agent_id),
            "BAOMI_WECOM_SECRET": wecom.secret,
            "BAOMI_WECOM_TOKEN": wecom.token,
            "BAOMI_WECOM_AES_KEY": wecom.aes_key,
            "BAOMI_WECOM_API_URL": wecom.api_url,
            "BAOMI_SEND_TIMEOUT": "2",  # the new leader recovers the old one's rows in flight after 3 s
        }
        first = await start(env, tmp_path, "first")
        second = await start(env, tmp_path, "second")
        instances = [first, second]
        try:
            roles = sorted([(await i.health())["role"] for i in instances])
            assert roles == ["leader", "standby"]
            health = {i: await i.health() for i in instances}
            leader = next(i for i in instances if health[i]["role"] == "leader")
            standby = next(i for i in instances if i is not leader)
            assert health[standby] == {"role": "standby", "database": "ok", "leadership": "alive"}

            # Every message to either instance is answered once, in order per person.
            for n in range(MESSAGES):
                for person in range(1, PEOPLE + 1):
                    wecom.connect(instances[(person + n) % 2].url + WECOM_PATH)
                    assert await wecom.send_text(f"u{person:03}", "/help" if n % 2 == 0 else "/profile") == 200
            await wecom.wait_for(
                lambda f: all(len(f.messages(f"u{p:03}")) >= MESSAGES * 3 // 2 for p in range(1, PEOPLE + 1)),
                timeout=60,
            )
            for person in range(1, PEOPLE + 1):
                # /profile's question comes as a text and as a card: the texts alone are one a message.
                said = [m.text for m in wecom.messages(f"u{person:03}") if m.msgtype == "text"]
                assert len(said) == MESSAGES
                assert len(set(said[0::2])) == 1 and len(set(said[1::2])) == 1 and said[0] != said[1]
                assert said[0].startswith(said[2][:20])

            # A Telegram update posted to the standby is taken into the inbox and answered by the leader.
            message = await api.send_text(RECIPIENTS + 1, "/help")
            async with aiohttp.ClientSession() as http:
                posted = {"update_id": 1, "message": message}
                async with http.post(
                    standby.url + TELEGRAM_PATH, json=posted, headers={SECRET_HEADER: SECRET}
                ) as response:
                    assert response.status == 200
            await api.wait_for(lambda a: len(a.chat(RECIPIENTS + 1)) >= 2, timeout=30)

            # A broadcast to the Telegram people; the leader is killed in the middle of it.
            notice = tmp_path / "notice.txt"
            notice.write_text("请于本周五前完成保密自查。", encoding="utf-8")
            settings = Settings(database_url=pg_url, timezone=TZ)
            sent_before = api.bot_messages_sent
            code = await run_command(
                settings,
                [
                    "broadcast",
                    "send",
                    "--text-file",
                    str(notice),
                    "--audience",
                    "department=考试院",
                    "--as",
                    "E001",
                    "--yes",
                    "--no-wait",
                ],
            )
            assert code == 0
            await api.wait_for(lambda a: a.bot_messages_sent >= sent_before + RECIPIENTS // 3, timeout=30)
            leader.proc.kill()
            assert await leader.proc.wait() == -signal.SIGKILL
            killed_at = api.bot_messages_sent - sent_before
            assert killed_at < RECIPIENTS
            await api.wait_for(
                lambda a: all(
                    any("保密自查" in m.get("text", "") for m in a.chat(p)) for p in range(1, RECIPIENTS + 1)
                ),
                timeout=40,
            )
            assert (await standby.health())["role"] == "leader"
            await settled(db)  # the rows the killed leader had in flight are resolved too (after the send timeout)
        finally:
            for instance in instances:
                if instance.proc.returncode is None:
                    instance.proc.send_signal(signal.SIGTERM)
                    assert await asyncio.wait_for(instance.proc.wait(), 30) == 0
                await instance.logging
        received = Counter(p for p in range(1, RECIPIENTS + 1) for m in api.chat(p) if "保密自查" in m.get("text", ""))
        assert received == Counter(range(1, RECIPIENTS + 1))  # each exactly once
        assert api.count_429 == 0
        assert await statuses(db) == {"sent"}


async def statuses(db: Database) -> set[str]:
    async with db.sessions() as s:
        return set(
            (await s.scalars(select(OutboxMessage.status).where(OutboxMessage.source.like("broadcast:%")))).all()
        )


async def settled(db: Database) -> None:
    for _ in range(200):
        if await statuses(db) == {"sent"}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the broadcast's rows are still {await statuses(db)}")


async def test_a_leader_that_lost_its_term_is_fenced(pg_url: str, bot: LocalBot, clock: SettableClock) -> None:
    """A leader cut off while another took over: its transactions commit nothing. The new leader leaves the rows
    the old one had in flight — and later rows of their chats — alone until a send could have ended, while other
    chats are served at once; then it resolves them."""
    app = bot.app
    async with app.db.transaction() as s:
        s.add(Leadership(id=1, epoch=2, holder="new", since=clock.now()))
        for chat, status, epoch in [("a", "sending", 1), ("a", "pending", None), ("b", "pending", None)]:
            s.add(
                OutboxMessage(
                    channel="local",
                    chat_id=chat,
                    op="send",
                    payload={"text": chat, "buttons": []},
                    priority=0,
                    status=status,
                    attempts=1 if epoch else 0,
                    epoch=epoch,
                    created_at=clock.now(),
                )
            )
    old = Database(pg_url)
    old.epoch = 1
    try:
        with pytest.raises(NotLeader):
            async with old.transaction(fenced=True) as s:
                await s.execute(update(OutboxMessage).values(status="failed"))
    finally:
        await old.dispose()

    app.db.epoch = 2
    app.dispatcher.send_timeout = 2.0
    stop = asyncio.Event()
    running = asyncio.create_task(app.dispatcher.run(stop, no_pulse()))
    try:
        for _ in range(200):  # chat b is served at once
            if await chat_statuses(app.db) == {"a": ["sending", "pending"], "b": ["sent"]}:
                break
            await asyncio.sleep(0.01)
        assert await chat_statuses(app.db) == {"a": ["sending", "pending"], "b": ["sent"]}
        for _ in range(500):  # after the send timeout and a second: a's rows, in order
            if await chat_statuses(app.db) == {"a": ["sent", "sent"], "b": ["sent"]}:
                break
            await asyncio.sleep(0.02)
        assert await chat_statuses(app.db) == {"a": ["sent", "sent"], "b": ["sent"]}
    finally:
        stop.set()
        app.dispatcher.wake()
        await running
    async with app.db.sessions() as s:
        assert set((await s.scalars(select(OutboxMessage.epoch))).all()) == {2}


async def chat_statuses(db: Database) -> dict[str, list[str]]:
    async with db.sessions() as s:
        rows = (await s.execute(select(OutboxMessage.chat_id, OutboxMessage.status).order_by(OutboxMessage.id))).all()
    found: dict[str, list[str]] = {}
    for chat, status in rows:
        found.setdefault(chat, []).append(status)
    return found
