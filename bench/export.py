"""Exports at scale: the compliance workbook and the 花名册 at 100,000 staff against 1,000 (`baomi export`, each in a
process of its own: time and peak memory), and what an /export in the chat costs everyone else: /status p95 of 20
people while an officer's /export of the 100,000-staff bureau is being made, against the same 20 with no export,
in the same run.

The bot (`baomi run` on a clock pinned to a quiet hour, bench/pinned.py) runs in its own process against the
project's fake Bot API; this process holds the fake and the simulated people.

    python bench/export.py [--large 100000] [--small 1000] [--people 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sweep import seed  # noqa: E402
from bot.testing.fake_bot_api import ChatEvent, FakeBotApi  # noqa: E402

TOKEN = "123456:EXPORT"
BAOMI = (sys.executable, str(ROOT / "bench" / "pinned.py"), "2026-03-01T22:00+08:00")
OFFICER = 1  # bench/sweep.py's seed: staff 1–3 are officers, everyone is bound with chat id = staff id
PEOPLE_FROM = 1000  # the people asking for /status: staff 1000 onwards


def cli_export(url: str, what: str, out: Path) -> tuple[float, float]:
    """Seconds and peak memory (MB) of `baomi export <what>` in a process of its own."""
    env = {**os.environ, "BAOMI_DATABASE_URL": url, "BAOMI_LOG_LEVEL": "WARNING"}
    extra = ["--year", "2026"] if what == "roster" else []
    start = time.perf_counter()
    command = [sys.executable, "-m", "bot", "export", what, *extra, "--out", str(out)]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"baomi export {what} failed")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


class Waiter:
    def __init__(self, api: FakeBotApi) -> None:
        self.queues: dict[int, asyncio.Queue[ChatEvent]] = defaultdict(asyncio.Queue)
        api.add_listener(self.on_event)

    def on_event(self, event: ChatEvent) -> None:
        if event.kind == "sent":
            self.queues[event.chat_id].put_nowait(event)


async def person(api: FakeBotApi, waiter: Waiter, user: int, until: asyncio.Event, latencies: list[float]) -> None:
    """/status, the answer, a second's pause; until `until` is set (and at least three times)."""
    rounds = 0
    while rounds < 3 or not until.is_set():
        queue = waiter.queues[user]
        while not queue.empty():
            queue.get_nowait()
        sent = time.perf_counter()
        await api.send_text(user, "/status", first_name=f"U{user}")
        await asyncio.wait_for(queue.get(), 300)
        latencies.append(time.perf_counter() - sent)
        rounds += 1
        await asyncio.sleep(1.0)


async def phase(api: FakeBotApi, waiter: Waiter, people: int, export: bool) -> tuple[list[float], float]:
    """/status latencies of `people` while an /export is made (or for 20 rounds without), and the export's time."""
    done = asyncio.Event()
    latencies: list[float] = []
    users = range(PEOPLE_FROM, PEOPLE_FROM + people)
    runners = [asyncio.create_task(person(api, waiter, u, done, latencies)) for u in users]
    elapsed = 0.0
    if export:
        queue = waiter.queues[OFFICER]
        start = time.perf_counter()
        await api.send_text(OFFICER, "/export", first_name="Officer")
        while True:
            event = await asyncio.wait_for(queue.get(), 900)
            if "document" in event.data:
                break
        elapsed = time.perf_counter() - start
    else:
        await asyncio.sleep(20)
    done.set()
    await asyncio.gather(*runners)
    return latencies, elapsed


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--people", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = {}
        figures: dict[tuple[int, str], tuple[float, float]] = {}
        for size in (args.small, args.large):
            urls[size] = await seed(Path(tmp) / f"org{size}.db", size)
            for what in ("compliance", "roster"):
                out = Path(tmp) / f"{what}{size}.xlsx"
                seconds, memory = await asyncio.to_thread(cli_export, urls[size], what, out)
                figures[size, what] = seconds, memory
                print(f"{size:>7} staff: baomi export {what:10} {seconds:7.2f} s, peak memory {memory:6.0f} MB")
        for what in ("compliance", "roster"):
            (big_s, big_m), (small_s, small_m) = figures[args.large, what], figures[args.small, what]
            print(f"export {what} at {args.large}: {big_s / small_s:.1f}x the time, {big_m / small_m:.1f}x the memory")
        api = FakeBotApi(token=TOKEN, bot_username="bench_bot", record_calls=False)
        await api.start()
        waiter = Waiter(api)
        env = {
            **os.environ,
            "BAOMI_DATABASE_URL": urls[args.large],
            "BAOMI_TELEGRAM_TOKEN": TOKEN,
            "BAOMI_TELEGRAM_API_URL": api.base_url,
            "BAOMI_LOG_LEVEL": "WARNING",
        }
        proc = await asyncio.create_subprocess_exec(*BAOMI, "run", env=env, cwd=tmp)
        try:
            await api.wait_for(lambda a: a.is_polling, timeout=120)
            results: dict[str, list[float]] = {"quiet": [], "export": []}
            for name in ("quiet", "export", "quiet", "export"):
                lat, made = await phase(api, waiter, args.people, name == "export")
                extra = f"  (the workbook arrived after {made:.1f} s)" if made else ""
                print(f"  {name:6}: p50 {statistics.median(lat) * 1000:6.0f} ms  p95 {p95(lat):6.0f} ms{extra}")
                results[name] += lat
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
            await api.stop()
    quiet, busy = p95(results["quiet"]), p95(results["export"])
    who = f"/status p95 of {args.people} people at {args.large} staff"
    print(f"{who}: {quiet:.0f} ms quiet, {busy:.0f} ms during /export")
    print(f"ratio {busy / quiet:.2f} (before: /export held the engine, and everyone waited for the whole workbook)")


if __name__ == "__main__":
    asyncio.run(main())
