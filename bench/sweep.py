"""Scheduled sweeps at scale: an organisation of 100,000 staff in SQLite against one of 1,000, in the same run.

Prints, for both sizes: one full sweep on an ordinary working day (every duty's queries, nothing due), the
busiest tick of the year (the October self-check asks every classified person), the bot's start-up time
(process start until it long-polls the fake Bot API) and its resident memory at rest.

    python bench/sweep.py [--large 100000] [--small 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
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
from bot.jobs.runner import SweepRunner  # noqa: E402
from bot.testing.fake_bot_api import FakeBotApi  # noqa: E402
from bot.texts import Texts  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
LEVELS = ["core"] * 2 + ["important"] * 8 + ["general"] * 60 + ["none"] * 30
TOKEN = "123456:SWEEP"


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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
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
    with tempfile.TemporaryDirectory() as tmp:
        for size in (args.small, args.large):
            t = time.perf_counter()
            url = await seed(Path(tmp) / f"org{size}.db", size)
            seeded = time.perf_counter() - t
            quiet, _ = await sweep_seconds(url, ordinary, warm=ordinary - timedelta(days=1))
            busy, done = await sweep_seconds(url, busiest, warm=ordinary)
            start_s, memory = await startup(url)
            figures[size] = (quiet, busy, start_s, memory)
            print(
                f"{size:>7} staff (seeded in {seeded:.1f} s): ordinary sweep {quiet * 1000:7.1f} ms, "
                f"busiest sweep {busy:6.2f} s ({sum(v for v in done.values() if v > 0)} messages), "
                f"start-up {start_s:5.2f} s, memory at rest {memory:6.1f} MB"
            )
    small, large = figures[args.small], figures[args.large]
    print(
        f"first tick of an ordinary day at {args.large}: {large[0]:.3f} s (target <= 1 s); "
        f"{large[0] / small[0]:.1f}x the {args.small}-staff sweep"
    )
    print(f"start-up at {args.large}: {large[2]:.2f} s (target <= 2 s); {large[2] / small[2]:.2f}x")
    print(f"memory growth {args.small} -> {args.large}: {large[3] - small[3]:+.1f} MB (target <= 50 MB)")


if __name__ == "__main__":
    asyncio.run(main())
