"""The pre-publication review's clock at scale: N requests waiting for their heads, in SQLite, for a small and a
large N in the same run.

Prints, for both: the tick that reminds every head (all N overdue at once), a quiet tick right after (everything
claimed, nothing to send: what every later minute of the day costs), and the tick that escalates all N to the
secrecy office.

    python bench/review_sweep.py [--large 1000] [--small 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.clock import SettableClock  # noqa: E402
from bot.config import Policy  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Binding, Department, Staff  # noqa: E402
from bot.db.models_review import ReviewRequest  # noqa: E402
from bot.db.session import Database  # noqa: E402
from bot.handlers.review.sweeps import ReviewClockSweep  # noqa: E402
from bot.jobs.runner import SweepRunner  # noqa: E402
from bot.texts import Texts  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
UNITS = 50
SUBMITTED = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)  # a Monday
REMIND = datetime(2026, 3, 5, 9, 0, tzinfo=TZ)  # Thursday: two working days waited
ESCALATE = datetime(2026, 3, 6, 9, 0, tzinfo=TZ)


async def seed(path: Path, requests: int) -> str:
    """UNITS units, each with a bound head and a bound submitter; two officers; `requests` waiting requests."""
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    async with db.transaction() as s:
        await s.execute(insert(Department), [{"name": f"单位{i:03}", "created_at": now} for i in range(UNITS)])
        staff = []
        for i in range(UNITS * 2 + 2):
            staff.append(
                {
                    "employee_id": f"R{i:05}",
                    "name": f"人员{i}",
                    "department_id": 1 + i % UNITS,
                    "level": "general",
                    "is_head": i < UNITS,
                    "is_officer": i >= UNITS * 2,
                    "is_leader": False,
                    "active": True,
                    "departed_on": None,
                    "locale": "zh",
                    "wecom_userid": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        await s.execute(insert(Staff), staff)
        await s.execute(
            insert(Binding),
            [
                {
                    "staff_id": i,
                    "channel": "telegram",
                    "channel_user_id": str(i),
                    "chat_id": str(i),
                    "created_at": now,
                    "unreachable_at": None,
                }
                for i in range(1, len(staff) + 1)
            ],
        )
        rows = [
            {
                "submitter_staff_id": UNITS + 1 + i % UNITS,
                "department_id": 1 + i % UNITS,
                "channel": "website",
                "channel_name": None,
                "title": f"工作动态第{i}期",
                "kind": "news",
                "planned_on": date(2026, 3, 20),
                "draft_ref": f"OA-2026-{i:05}",
                "chain": ["head", "office"],
                "status": "reviewing",
                "round": 1,
                "stage_index": 0,
                "stage_since": SUBMITTED,
                "submitted_at": SUBMITTED,
                "decided_at": None,
                "number": None,
                "year": None,
                "seq": None,
                "record_hash": None,
                "updated_at": SUBMITTED,
            }
            for i in range(requests)
        ]
        await s.execute(insert(ReviewRequest), rows)
    await db.dispose()
    return url


async def ticks(url: str) -> tuple[float, float, float, int, int]:
    """Seconds of the reminding tick, a quiet tick after it and the escalating tick; what the two busy ones did."""
    db = Database(url)
    runner = SweepRunner(db, SettableClock(REMIND), Policy(), Texts(TZ), TZ, [ReviewClockSweep()], lambda: None)
    await runner.run_all(datetime.combine(SUBMITTED.date(), dtime(11), TZ))  # warm: nothing is due yet
    figures = []
    done = []
    for when in (REMIND, REMIND.replace(minute=1), ESCALATE):
        start = time.perf_counter()
        done.append((await runner.run_all(when))["review_clock"])
        figures.append(time.perf_counter() - start)
    await db.dispose()
    return figures[0], figures[1], figures[2], done[0], done[2]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--small", type=int, default=10)
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (args.small, args.large):
            url = await seed(Path(tmp) / f"reviews{size}.db", size)
            remind, quiet, escalate, reminded, escalated = await ticks(url)
            figures[size] = (remind, quiet, escalate)
            print(
                f"{size:>6} waiting: reminding tick {remind * 1000:8.1f} ms ({reminded} reminded, "
                f"{remind / size * 1000:.2f} ms each), quiet tick {quiet * 1000:6.1f} ms, "
                f"escalating tick {escalate * 1000:8.1f} ms ({escalated} escalated)"
            )
    small, large = figures[args.small], figures[args.large]
    print(
        f"{args.large} against {args.small} waiting: reminding {large[0] / small[0]:.1f}x, "
        f"quiet {large[1] / small[1]:.1f}x, escalating {large[2] / small[2]:.1f}x "
        f"(requests {args.large / args.small:.0f}x)"
    )


if __name__ == "__main__":
    asyncio.run(main())
