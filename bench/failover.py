"""Failover: two `baomi serve` instances on one PostgreSQL database while a broadcast is being sent; the leader is
SIGKILLed and the standby takes over. The figure is the time from the kill to the first message the new leader
sent (its `sent_at`, the term it claimed the row in), for each of KILLS kills — a fresh standby is started after each
— against the same for a lone instance restarted after the kill (a process manager restarting it at once).

The fake Bot API and the sender run in this process, each instance in a process of its own. Target: ≤ 10 s.

    python bench/failover.py [--database postgresql+asyncpg://postgres@127.0.0.1:5432/baomi_failover]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.cli import run_command  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Leadership, OutboxMessage, Staff  # noqa: E402
from bot.db.session import Database  # noqa: E402
from bot.testing.fake_bot_api import FakeBotApi  # noqa: E402
from bot.testing.seed import seed_bound_staff  # noqa: E402

TOKEN = "123456:BENCH"
RECIPIENTS = 1500  # 50 s at Telegram's 30 a second: the kills all fall in the middle of it
KILLS = 3
SECRET = "s" * 32


async def prepare(url: str, api: FakeBotApi) -> None:
    server, name = url.rsplit("/", 1)
    admin = create_async_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    await upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    await seed_bound_staff(db, now, RECIPIENTS, department="考试院", prefix="T")
    async with db.transaction() as s:
        s.add(
            Staff(
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
        )
    await db.dispose()
    for user in range(1, RECIPIENTS + 1):
        await api.send_text(user, "/start")  # their chats exist


async def start(env: dict[str, str], workdir: Path) -> asyncio.subprocess.Process:
    log = (workdir / "instances.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", "0", env=env, cwd=workdir, stderr=log
    )
    log.close()
    return proc


async def term(db: Database) -> tuple[int, str | None]:
    async with db.sessions() as s:
        row = (await s.execute(select(Leadership.epoch, Leadership.holder))).first()
    return (0, None) if row is None else (row[0], row[1])


async def first_sent(db: Database, epoch: int) -> datetime | None:
    async with db.sessions() as s:
        return await s.scalar(select(func.min(OutboxMessage.sent_at)).where(OutboxMessage.epoch == epoch))


async def kill_and_time(
    db: Database, procs: dict[int, asyncio.subprocess.Process], restart: dict[str, str] | None = None
) -> float:
    """SIGKILL the leader (and with `restart`, the environment, start another instance at once); seconds until the
    next term's first message went out."""
    epoch, holder = await term(db)
    assert holder is not None
    leader = procs.pop(int(holder.rsplit(":", 1)[1]))
    killed = datetime.now(UTC)
    leader.kill()
    await leader.wait()
    if restart is not None:
        new = await start(restart, Path(tempfile.gettempdir()))
        procs[new.pid] = new
    for _ in range(1200):
        now_epoch, _ = await term(db)
        if now_epoch > epoch and (sent := await first_sent(db, now_epoch)) is not None:
            return (sent - killed).total_seconds()
        await asyncio.sleep(0.05)
    raise RuntimeError("no new leader sent anything within 60 s")


async def wait_leading(db: Database, procs: dict[int, asyncio.subprocess.Process]) -> None:
    for _ in range(600):
        _, holder = await term(db)
        if holder is not None and int(holder.rsplit(":", 1)[1]) in procs:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("no instance leads")


async def main(url: str) -> None:
    api = FakeBotApi(token=TOKEN, bot_username="bench_bot", record_calls=False)
    await api.start()
    try:
        await prepare(url, api)
        db = Database(url)
        env = {
            **os.environ,
            "BAOMI_DATABASE_URL": url,
            "BAOMI_TELEGRAM_TOKEN": TOKEN,
            "BAOMI_TELEGRAM_API_URL": api.base_url,
            "BAOMI_TELEGRAM_WEBHOOK_URL": "https://baomi.example.org/telegram/webhook",
            "BAOMI_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "BAOMI_LOG_LEVEL": "WARNING",
        }
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            procs = {p.pid: p for p in [await start(env, workdir), await start(env, workdir)]}
            await wait_leading(db, procs)
            notice = workdir / "notice.txt"
            notice.write_text("请于本周五前完成保密自查。", encoding="utf-8")
            argv = ["broadcast", "send", "--text-file", str(notice), "--audience", "all", "--as", "E001"]
            with contextlib.redirect_stdout(io.StringIO()):  # the preview and the receipt
                await run_command(
                    Settings(database_url=url, timezone=ZoneInfo("Asia/Shanghai")), [*argv, "--yes", "--no-wait"]
                )
            failovers = []
            for _ in range(KILLS):
                await api.wait_for(lambda a: a.bot_messages_sent > 0, timeout=30)
                await asyncio.sleep(3)  # sending at full pace when the leader dies
                failovers.append(await kill_and_time(db, procs))
                new = await start(env, workdir)  # the next standby
                procs[new.pid] = new
            # The baseline: a lone instance, killed and restarted at once.
            for proc in list(procs.values())[1:]:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
                del procs[proc.pid]
            await wait_leading(db, procs)
            await asyncio.sleep(3)
            restart = await kill_and_time(db, procs, restart=env)
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
        await db.dispose()
    finally:
        await api.stop()
    print(f"failover, leader SIGKILLed mid-broadcast → first message sent by the new leader ({KILLS} kills):")
    print(
        f"    {', '.join(f'{s:.2f}' for s in failovers)} s; median {statistics.median(failovers):.2f} s (target ≤ 10 s)"
    )
    print(f"    a lone instance killed and restarted at once: {restart:.2f} s")
    print(f"    ratio standby / restart: {statistics.median(failovers) / restart:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="postgresql+asyncpg://postgres@127.0.0.1:5432/baomi_failover")
    asyncio.run(main(parser.parse_args().database))
