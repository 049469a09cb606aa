"""The web console at scale: each page's p95 (and p50, and CPU time) of 50 requests on an organisation of 100,000
staff in SQLite, against the chat's /dashboard, which computes the same figures, in the same run.

The console is served by the real `baomi serve` server (bot/server.py) on loopback and fetched over HTTP with a
signed-in session; /dashboard is the chat's flow run in-process (no messaging), so its time is the figures and
their text alone. Seeding is bench/sweep.py's (everyone bound, nobody has done anything yet).

    python bench/console.py [--staff 100000] [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp  # noqa: E402
from sweep import seed  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.clock import SettableClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.console_web import COOKIE  # noqa: E402
from bot.core.flow import FlowContext  # noqa: E402
from bot.handlers.compliance import standing  # noqa: E402
from bot.handlers.compliance.dashboard import DashboardFlow  # noqa: E402
from bot.handlers.desk import service as desk  # noqa: E402
from bot.handlers.pledges.catalog import load_catalog  # noqa: E402
from bot.server import Server  # noqa: E402
from bot.services import people  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 11, 10, tzinfo=TZ)
PAGES = [
    "/console/",
    "/console/api/overview",
    "/console/people",
    "/console/people/{someone}",
    "/console/cases",
    "/console/broadcasts",
    "/console/exports",
    "/console/calendar",
]


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


@dataclass(frozen=True)
class Figures:
    """Wall time (p50, p95) and this process's CPU time per request (the server, SQLite's thread and the client
    alike): on a machine shared with other work the CPU time moves far less than the wall time."""

    p50: float
    p95: float
    cpu: float

    @classmethod
    def of(cls, samples: list[float], cpu: float) -> Figures:
        return cls(statistics.median(samples), p95(samples), cpu / len(samples))

    def __str__(self) -> str:
        return f"p50 {self.p50 * 1000:7.1f} ms  p95 {self.p95 * 1000:7.1f} ms  CPU {self.cpu * 1000:6.1f} ms"


async def dashboard_figures(app: object, requests: int) -> Figures:
    """The chat's /dashboard for an officer: the same figures (every department's duties), rendered as text."""
    flow = DashboardFlow(load_catalog().catalog)
    samples = []
    async with app.db.sessions() as session:  # type: ignore[attr-defined]
        officer = await people.by_employee_id(session, "S0000000")
        assert officer is not None
        cpu = time.process_time()
        for _ in range(requests):
            ctx = FlowContext(
                session,
                NOW,
                officer,
                app.settings.policy,
                app.texts,
                "telegram",
                app.registry,  # type: ignore[attr-defined]
            )
            start = time.perf_counter()
            await flow.start(ctx, "")
            samples.append(time.perf_counter() - start)
        return Figures.of(samples, time.process_time() - cpu)


async def signed_in(app: object, http_url: str) -> aiohttp.ClientSession:
    """A browser's session of the first officer (a new one per page, within the per-session rate)."""
    async with app.db.transaction() as session:  # type: ignore[attr-defined]
        officer = await people.by_employee_id(session, "S0000000")
        assert officer is not None
        token = await desk.issue_link(session, officer.id, NOW)
        opened = await desk.redeem(session, token, NOW)
        assert opened is not None
    return aiohttp.ClientSession(cookies={COOKIE: opened.token})


async def page_figures(app: object, url: str, path: str, requests: int) -> Figures:
    samples = []
    async with await signed_in(app, url) as http:
        cpu = 0.0
        for n in range(requests + 1):  # the first one warms the caches and is not counted
            start, started = time.perf_counter(), time.process_time()
            async with http.get(url + path) as response:
                await response.read()
                assert response.status == 200, (path, response.status)
            samples.append(time.perf_counter() - start)
            cpu += (time.process_time() - started) if n else 0.0
    return Figures.of(samples[1:], cpu)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--staff", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        url = await seed(Path(tmp) / "org.db", args.staff)
        print(f"{args.staff} staff seeded in {time.perf_counter() - t:.1f} s")
        settings = Settings(database_url=url, timezone=TZ, telegram_token="1:BENCH", public_url="http://127.0.0.1")
        app = build_app(settings, SettableClock(NOW), serve=True)
        app.migrated = True
        async with app.db.transaction() as session:  # as the first read after a roster import would
            t = time.perf_counter()
            settled = await standing.settle(session)
        print(f"{settled} standings copied from the records in {time.perf_counter() - t:.1f} s")
        server = Server(app)
        await server.start("127.0.0.1", 0)
        try:
            baseline = await dashboard_figures(app, args.requests)
            print(f"{'chat /dashboard (the same figures)':<34} {baseline}")
            for path in PAGES:
                target = path.format(someone=args.staff // 2)
                figure = await page_figures(app, server.url, target, args.requests)
                verdict = "met" if figure.p95 <= 0.2 else "not met"
                print(
                    f"{path:<34} {figure}  p95 {figure.p95 / baseline.p95:5.2f}x, CPU {figure.cpu / baseline.cpu:5.2f}x"
                    f" /dashboard (p95 <= 200 ms: {verdict})"
                )
        finally:
            await server.stop()
            await app.db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
