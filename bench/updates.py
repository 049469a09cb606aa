"""Updates handled per second and reply latency: our bot (inbox, engine, database, outbox) against a bare
python-telegram-bot bot doing the same visible work, both driven by 50 simulated people through the
project's fake Bot API over loopback, in the same run.

Three bare bots: on python-telegram-bot's own httpx; with our aiohttp request for what it sends but polling through
python-telegram-bot's httpx (the baseline of issue 20's figures: `builder.request` leaves getUpdates alone); and on our
aiohttp request for every request, the same transport as ours, which the target is measured against.

Each bot runs in its own process; this process holds the fake API and the simulated people, and is the
same for both. Each person, closed-loop: /language, wait for the buttons, press one, wait for the edit,
/status, wait for the reply — ROUNDS times, after a round that is not counted (connections opened, templates
compiled). Variants alternate (A B A B); the best run of each counts, and the medians are compared too.

    python bench/updates.py [--users 50] [--rounds 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db.migrate import upgrade  # noqa: E402
from bot.db.session import Database  # noqa: E402
from bot.testing.fake_bot_api import ChatEvent, FakeBotApi  # noqa: E402
from bot.testing.seed import seed_bound_staff  # noqa: E402

TOKEN = "123456:BENCH"
WARMUP_ROUNDS = 1


class Waiter:
    """Per chat, the bot's sends and edits as they happen, to await the answer to each action."""

    def __init__(self, api: FakeBotApi) -> None:
        self.queues: dict[int, asyncio.Queue[ChatEvent]] = defaultdict(asyncio.Queue)
        api.add_listener(self.on_event)

    def on_event(self, event: ChatEvent) -> None:
        if event.kind in ("sent", "edited"):
            self.queues[event.chat_id].put_nowait(event)

    async def next(self, chat: int) -> ChatEvent:
        return await asyncio.wait_for(self.queues[chat].get(), 30)


async def person(api: FakeBotApi, waiter: Waiter, user: int, rounds: int, latencies: list[float]) -> int:
    updates = 0
    for i in range(rounds):
        t = time.perf_counter()
        await api.send_text(user, "/language", first_name=f"U{user}")
        event = await waiter.next(user)
        latencies.append(time.perf_counter() - t)
        buttons = api.buttons(event.data)
        t = time.perf_counter()
        await api.press(user, event.data["message_id"], buttons[i % 2][1])
        await waiter.next(user)
        latencies.append(time.perf_counter() - t)
        t = time.perf_counter()
        await api.send_text(user, "/status", first_name=f"U{user}")
        await waiter.next(user)
        latencies.append(time.perf_counter() - t)
        updates += 3
    return updates


async def seed(db_path: Path, users: int) -> str:
    url = f"sqlite+aiosqlite:///{db_path}"
    await upgrade(url)
    db = Database(url)
    await seed_bound_staff(db, datetime.now(UTC), users, department="基础教育科", prefix="B")
    await db.dispose()
    return url


async def run_variant(name: str, users: int, rounds: int, workdir: Path) -> tuple[float, list[float]]:
    api = FakeBotApi(token=TOKEN, bot_username="bench_bot")
    await api.start()
    waiter = Waiter(api)
    if name.startswith("ptb"):
        transport = {"ptb": "httpx", "ptb-aiohttp": "aiohttp", "ptb-mixed": "aiohttp-sends"}[name]
        cmd = [sys.executable, str(ROOT / "bench" / "echo_bot.py"), TOKEN, api.base_url, transport]
        env = dict(os.environ)
    else:
        db_path = workdir / f"bench-{time.monotonic_ns()}.db"
        url = await seed(db_path, users)
        cmd = [sys.executable, "-m", "bot", "run"]
        env = {
            **os.environ,
            "BAOMI_DATABASE_URL": url,
            "BAOMI_TELEGRAM_TOKEN": TOKEN,
            "BAOMI_TELEGRAM_API_URL": api.base_url,
            "BAOMI_LOG_LEVEL": "WARNING",
            # The fake enforces no limit and neither does the baseline: compare the work, not the pacing.
            "BAOMI_TELEGRAM_RATE": "0",
            "BAOMI_INTAKE_LIMIT": "0",  # the simulated people type faster than anyone
        }
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, cwd=ROOT)
    try:
        await api.wait_for(lambda a: a.is_polling, timeout=30)
        # A round first, not counted: connections opened, templates compiled, caches filled (steady state is measured).
        await asyncio.gather(*(person(api, waiter, u, WARMUP_ROUNDS, []) for u in range(1, users + 1)))
        latencies: list[float] = []
        start = time.perf_counter()
        cpu_before = process_cpu(proc.pid)
        counts = await asyncio.gather(*(person(api, waiter, u, rounds, latencies) for u in range(1, users + 1)))
        elapsed = time.perf_counter() - start
        cpu = process_cpu(proc.pid) - cpu_before
        print(
            f"  {name:6} bot process CPU {cpu / elapsed:.0%} of one core, {cpu / sum(counts) * 1000:.2f} ms per update"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        await api.stop()
    return sum(counts) / elapsed, latencies


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    best: dict[str, tuple[float, list[float]]] = {}
    rates: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name in ("ptb", "ptb-mixed", "ptb-aiohttp", "baomi"):
                rate, lat = await run_variant(name, args.users, args.rounds, Path(tmp))
                print(f"  {name:6} {rate:7.1f} updates/s  p50 {pct(lat, 50):6.1f} ms  p95 {pct(lat, 95):6.1f} ms")
                rates[name].append(rate)
                if name not in best or rate > best[name][0]:
                    best[name] = (rate, lat)
    our_rate, our_lat = best["baomi"]
    print(f"users={args.users} rounds={args.rounds} updates per run={args.users * args.rounds * 3}")
    for name, label in (
        ("ptb", "bare python-telegram-bot (httpx)"),
        ("ptb-mixed", "bare python-telegram-bot (aiohttp sends, httpx getUpdates)"),
        ("ptb-aiohttp", "bare python-telegram-bot (aiohttp)"),
    ):
        rate, lat = best[name]
        print(f"{label}: {rate:7.1f} updates/s, p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms")
    print(
        f"baomi (inbox+engine+db+outbox, aiohttp): {our_rate:7.1f} updates/s, p50 {pct(our_lat, 50):.1f} ms, "
        f"p95 {pct(our_lat, 95):.1f} ms"
    )
    print(f"throughput ratio baomi / bare PTB on httpx: {our_rate / best['ptb'][0]:.2f}")
    mixed = our_rate / best["ptb-mixed"][0]
    print(f"throughput ratio baomi / bare PTB, aiohttp sends, httpx getUpdates (the issue's baseline): {mixed:.2f}")
    same = our_rate / best["ptb-aiohttp"][0]
    print(f"throughput ratio baomi / bare PTB on the same aiohttp transport: {same:.2f} (target >= 0.9)")
    medians = statistics.median(rates["baomi"]) / statistics.median(rates["ptb-aiohttp"])
    print(f"  the same, median run against median run: {medians:.2f} ({args.repeats} runs each)")


if __name__ == "__main__":
    asyncio.run(main())
