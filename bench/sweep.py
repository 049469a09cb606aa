"""Scheduled sweeps at scale: an organisation of 100,000 staff in SQLite against one of 1,000, in the same run.

Prints, for both sizes: one full sweep on an ordinary working day (every duty's queries, nothing due), the
busiest tick of the year (the October self-check asks every classified person), the bot's start-up time
(process start until it long-polls the fake Bot API) and its resident memory at rest.

Then a running bot on that busiest day (`baomi run` on a clock pinned to 8 October, bench/pinned.py, against the
project's fake Bot API in this process, on a copy of the freshly seeded database): 20 people send /status and wait
for the answer, a second apart, first in the minute before the bot's first tick (no tick) and then while that tick
runs; the ratio of the p95s, and the bot's resident memory before the tick against its high-water mark after it.

    python bench/sweep.py [--large 100000] [--small 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.app import wire  # noqa: E402
from bot.clock import SettableClock  # noqa: E402
from bot.config import Policy  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Binding, Department, Staff  # noqa: E402
from bot.db.session import Database  # noqa: E402
from bot.handlers.compliance.standing import settle  # noqa: E402
from bot.jobs.runner import SweepRunner  # noqa: E402
from bot.testing.fake_bot_api import ChatEvent, FakeBotApi  # noqa: E402
from bot.texts import Texts  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
LEVELS = ["core"] * 2 + ["important"] * 8 + ["general"] * 60 + ["none"] * 30
TOKEN = "123456:SWEEP"
BUSIEST = "2026-10-08T10:00+08:00"  # the bot's clock at start; its first tick comes a minute later
ASKERS = 20  # people sending /status (staff 1..20, bound in the seed)


async def seed(path: Path, staff: int) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    rng = random.Random(7)
    departments = max(5, staff // 200)
    async with db.transaction() as s:
        await s.execute(insert(Department), [{"name": f"部门{i:04}", "created_at": now} for i in range(departments)])
        rows = [
            {
                "employee_id": f"S{i:07}",
                "name": f"人员{i}",
                "department_id": 1 + i % departments,
                "level": rng.choice(LEVELS),
                "is_head": i < departments,
                "is_officer": i < 3,
                "active": True,
                "departed_on": None,
                "locale": "zh",
                "wecom_userid": None,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(staff)
        ]
        for start in range(0, staff, 5000):
            await s.execute(insert(Staff), rows[start : start + 5000])
        bindings = [
            {
                "staff_id": i + 1,
                "channel": "telegram",
                "channel_user_id": str(i + 1),
                "chat_id": str(i + 1),
                "created_at": now,
                "unreachable_at": None,
            }
            for i in range(staff)
        ]
        for start in range(0, staff, 5000):
            await s.execute(insert(Binding), bindings[start : start + 5000])
    # Everyone's kept standing, as a bot that has run since the roster came in has it (its first read copies them:
    # otherwise the busiest tick's weekly digest would, in one transaction).
    async with db.transaction() as s:
        await settle(s)
    await db.dispose()
    return url


async def sweep_seconds(url: str, when: datetime, warm: datetime) -> tuple[float, dict[str, int]]:
    db = Database(url)
    clock = SettableClock(when)
    runner = SweepRunner(db, clock, Policy(), Texts(TZ), TZ, wire().sweeps, on_outbox=lambda: None)
    await runner.run_all(warm)  # connections and statement caches, at an instant when nothing is due
    start = time.perf_counter()
    done = await runner.run_all(when)
    elapsed = time.perf_counter() - start
    await db.dispose()
    return elapsed, done


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The process's resident memory (VmRSS) or its high-water mark (VmHWM), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def startup(url: str) -> tuple[float, float]:
    """Seconds from process start until the bot long-polls, and its resident memory then (MB)."""
    api = FakeBotApi(token=TOKEN, bot_username="sweep_bot")
    await api.start()
    env = {
        **os.environ,
        "BAOMI_DATABASE_URL": url,
        "BAOMI_TELEGRAM_TOKEN": TOKEN,
        "BAOMI_TELEGRAM_API_URL": api.base_url,
        "BAOMI_LOG_LEVEL": "WARNING",
    }
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=ROOT)
    try:
        await api.wait_for(lambda a: a.is_polling, timeout=60)
        elapsed = time.perf_counter() - start
        memory = rss_mb(proc.pid)
    finally:
        proc.terminate()
        await proc.wait()
        await api.stop()
    return elapsed, memory


class Answers:
    """When each asker's /status answer reached the fake Bot API (their reminders arrive in the same chat)."""

    def __init__(self, api: FakeBotApi) -> None:
        self.queues: dict[int, asyncio.Queue[float]] = {u: asyncio.Queue() for u in range(1, ASKERS + 1)}
        api.add_listener(self.on_event)

    def on_event(self, event: ChatEvent) -> None:
        queue = self.queues.get(event.chat_id)
        if queue is not None and event.kind == "sent" and "【个人信息】" in str(event.data.get("text", "")):
            queue.put_nowait(time.perf_counter())


async def asker(api: FakeBotApi, answers: Answers, user: int, until: asyncio.Event, out: list[tuple[float, float]]):
    """/status, wait for the answer, a second's pause, until `until` is set: (sent at, seconds waited)."""
    queue = answers.queues[user]
    while not until.is_set():
        sent = time.perf_counter()
        await api.send_text(user, "/status", first_name=f"U{user}")
        out.append((sent, await asyncio.wait_for(queue.get(), 300) - sent))
        await asyncio.sleep(1.0)


async def live(path: Path) -> dict[str, float]:
    """A running bot's /status p95 before and during its busiest tick, and its memory around the tick."""
    api = FakeBotApi(token=TOKEN, bot_username="sweep_bot", record_calls=False)
    await api.start()
    answers = Answers(api)
    env = {
        **os.environ,
        "BAOMI_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "BAOMI_TELEGRAM_TOKEN": TOKEN,
        "BAOMI_TELEGRAM_API_URL": api.base_url,
        "BAOMI_LOG_LEVEL": "INFO",
    }
    pinned = (sys.executable, str(ROOT / "bench" / "pinned.py"), BUSIEST, "run")
    proc = await asyncio.create_subprocess_exec(*pinned, env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    tick: dict[str, float] = {}
    ended = asyncio.Event()

    async def watch_log() -> None:
        # The runner logs each run that acted: "sweeps in 21.3 s (412 chunks, longest 0.18 s): renewals=...".
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace")
            found = re.search(r"sweeps in ([0-9.]+) s(?: \((\d+) chunks, longest ([0-9.]+) s\))?", line)
            if found and not ended.is_set():
                tick["end"] = time.perf_counter()
                tick["seconds"] = float(found.group(1))
                tick["chunks"] = float(found.group(2) or 0)
                tick["longest"] = float(found.group(3) or 0)
                tick["rss_before"] = rest
                tick["hwm"] = rss_mb(proc.pid, "VmHWM")
                ended.set()

    watcher = asyncio.create_task(watch_log())
    try:
        await api.wait_for(lambda a: a.is_polling, timeout=120)
        await asyncio.sleep(3)
        rest = rss_mb(proc.pid)
        asked: list[tuple[float, float]] = []
        askers = [asyncio.create_task(asker(api, answers, u, ended, asked)) for u in range(1, ASKERS + 1)]
        await asyncio.wait_for(ended.wait(), timeout=900)
        await asyncio.gather(*askers)
    finally:
        proc.terminate()
        await proc.wait()
        watcher.cancel()
        await api.stop()
    start = tick["end"] - tick["seconds"]
    quiet = [waited for sent, waited in asked if sent + waited < start]
    busy = [waited for sent, waited in asked if sent < tick["end"] and sent + waited > start]
    return {**tick, "quiet": p95(quiet), "busy": p95(busy), "quiet_n": len(quiet), "busy_n": len(busy)}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94] if len(values) > 1 else float("nan")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    args = parser.parse_args()
    # A Wednesday when nothing new is due: the yearly renewals' weekly reminder went out the day before (the warm-up
    # tick), so the first tick of the day reads everyone's standing and finds nothing to send.
    ordinary = datetime.combine(datetime(2026, 3, 11).date(), dtime(10), TZ)
    busiest = datetime.combine(datetime(2026, 10, 8).date(), dtime(10), TZ)  # the self-check asks everyone
    figures = {}
    lives: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (args.small, args.large):
            t = time.perf_counter()
            url = await seed(Path(tmp) / f"org{size}.db", size)
            seeded = time.perf_counter() - t
            shutil.copy(Path(tmp) / f"org{size}.db", Path(tmp) / f"live{size}.db")
            quiet, _ = await sweep_seconds(url, ordinary, warm=ordinary - timedelta(days=1))
            busy, done = await sweep_seconds(url, busiest, warm=ordinary)
            start_s, memory = await startup(url)
            running = await live(Path(tmp) / f"live{size}.db")
            figures[size] = (quiet, busy, start_s, memory)
            lives[size] = running
            print(
                f"{size:>7} staff (seeded in {seeded:.1f} s): ordinary sweep {quiet * 1000:7.1f} ms, "
                f"busiest sweep {busy:6.2f} s ({sum(v for v in done.values() if v > 0)} messages), "
                f"start-up {start_s:5.2f} s, memory at rest {memory:6.1f} MB"
            )
            print(
                f"{size:>7} staff, running bot: busiest tick {running['seconds']:.2f} s ({running['chunks']:.0f} "
                f"chunks, the longest holding the database {running['longest']:.2f} s); /status p95 "
                f"{running['quiet'] * 1000:.0f} ms before it ({running['quiet_n']:.0f} asked), "
                f"{running['busy'] * 1000:.0f} ms during it ({running['busy_n']:.0f} asked); memory "
                f"{running['rss_before']:.1f} MB before the tick, high-water mark {running['hwm']:.1f} MB"
            )
    small, large = figures[args.small], figures[args.large]
    big, little = lives[args.large], lives[args.small]
    print(
        f"first tick of an ordinary day at {args.large}: {large[0]:.3f} s (target <= 1 s); "
        f"{large[0] / small[0]:.1f}x the {args.small}-staff sweep"
    )
    print(f"start-up at {args.large}: {large[2]:.2f} s (target <= 2 s); {large[2] / small[2]:.2f}x")
    print(f"memory growth {args.small} -> {args.large}: {large[3] - small[3]:+.1f} MB (target <= 50 MB)")
    print(
        f"/status p95 during the busiest tick at {args.large}: {big['busy']:.2f} s (target <= 1 s); "
        f"{big['busy'] / big['quiet']:.1f}x the p95 with no tick ({big['quiet'] * 1000:.0f} ms)"
    )
    grown, grown_small = big["hwm"] - big["rss_before"], little["hwm"] - little["rss_before"]
    print(
        f"peak memory of the busiest tick at {args.large}: {big['hwm']:.0f} MB (+{grown:.0f} MB over the bot at "
        f"rest); {big['hwm'] / little['hwm']:.2f}x the {args.small}-staff tick's {little['hwm']:.0f} MB "
        f"(+{grown_small:.0f} MB)"
    )


if __name__ == "__main__":
    asyncio.run(main())
