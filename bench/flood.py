"""Fairness under a flood: /status latency of 20 people while one account queues 1,000 messages, against the same
20 people with nobody flooding, in the same run (alternately: quiet, flood, quiet, flood).

The bot (`baomi run` on a clock pinned to a quiet hour, bench/pinned.py) runs in its own process against the
project's fake Bot API, with Telegram's limits at their default (30 a second, 1 a second per chat); this process
holds the fake and the simulated people. Each of the 20 sends /status and waits for the answer, then presses its first
button and waits for the press to be answered (the button stops spinning), ROUNDS times, a second apart.

    python bench/flood.py [--people 20] [--flood 1000] [--rounds 8]
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

TOKEN = "123456:FLOOD"
BAOMI = (sys.executable, str(ROOT / "bench" / "pinned.py"), "2026-03-01T22:00+08:00")


class Waiter:
    def __init__(self, api: FakeBotApi) -> None:
        self.queues: dict[int, asyncio.Queue[tuple[float, ChatEvent]]] = defaultdict(asyncio.Queue)
        self.answers: dict[int, asyncio.Queue[float]] = defaultdict(asyncio.Queue)
        api.add_listener(self.on_event)

    def on_event(self, event: ChatEvent) -> None:
        if event.kind == "sent":
            self.queues[event.chat_id].put_nowait((time.perf_counter(), event))
        elif event.kind == "callback_answer":
            self.answers[event.chat_id].put_nowait(time.perf_counter())


async def person(
    api: FakeBotApi, waiter: Waiter, user: int, rounds: int, latencies: list[float], presses: list[float]
) -> None:
    """/status and the answer, then a press of the answer's first button (the time until the button stops
    spinning: Telegram's answerCallbackQuery), a second's pause; `rounds` times."""
    for _ in range(rounds):
        queue, answers = waiter.queues[user], waiter.answers[user]
        for q in (queue, answers):
            while not q.empty():
                q.get_nowait()
        sent = time.perf_counter()
        await api.send_text(user, "/status", first_name=f"U{user}")
        arrived, event = await asyncio.wait_for(queue.get(), 120)
        latencies.append(arrived - sent)
        rows = (event.data.get("reply_markup") or {}).get("inline_keyboard") or []
        if rows:
            pressed = time.perf_counter()
            await api.press(user, event.data["message_id"], rows[0][0]["callback_data"])
            presses.append(await asyncio.wait_for(answers.get(), 120) - pressed)
            await asyncio.wait_for(queue.get(), 120)  # what the button started: not taken for the next /status
        await asyncio.sleep(1.0)


async def phase(
    api: FakeBotApi, waiter: Waiter, people: int, rounds: int, flood: int
) -> tuple[list[float], list[float]]:
    flooder = people + 1
    for _ in range(flood):
        await api.send_text(flooder, "/help", first_name="F")
    latencies: list[float] = []
    presses: list[float] = []
    await asyncio.gather(*(person(api, waiter, u, rounds, latencies, presses) for u in range(1, people + 1)))
    return latencies, presses


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--flood", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    api = FakeBotApi(token=TOKEN, bot_username="bench_bot", record_calls=False)
    await api.start()
    waiter = Waiter(api)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'flood.db'}"
        await upgrade(url)
        db = Database(url)
        await seed_bound_staff(db, datetime.now(UTC), args.people + 1, department="基础教育科", prefix="F")
        await db.dispose()
        env = {
            **os.environ,
            "BAOMI_DATABASE_URL": url,
            "BAOMI_TELEGRAM_TOKEN": TOKEN,
            "BAOMI_TELEGRAM_API_URL": api.base_url,
            "BAOMI_LOG_LEVEL": "WARNING",
        }
        proc = await asyncio.create_subprocess_exec(*BAOMI, "run", env=env, cwd=tmp)
        try:
            await api.wait_for(lambda a: a.is_polling, timeout=60)
            results: dict[str, list[float]] = {"quiet": [], "flood": []}
            pressed: dict[str, list[float]] = {"quiet": [], "flood": []}
            for name in ("quiet", "flood", "quiet", "flood"):
                lat, presses = await phase(api, waiter, args.people, args.rounds, args.flood if name == "flood" else 0)
                print(
                    f"  {name:5}: /status p50 {statistics.median(lat) * 1000:6.0f} ms  p95 {p95(lat):6.0f} ms;"
                    f" press answered p95 {p95(presses):6.0f} ms ({len(presses)} presses)"
                )
                results[name] += lat
                pressed[name] += presses
                await asyncio.sleep(25)  # the flooder's window of the intake limit passes
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
            await api.stop()
    quiet, flooded = p95(results["quiet"]), p95(results["flood"])
    print(f"/status p95 of {args.people} people: {quiet:.0f} ms quiet, {flooded:.0f} ms while one account queues")
    print(f"{args.flood} messages: ratio {flooded / quiet:.2f} (target <= 1.5)")
    print(
        f"a pressed button answered: p95 {p95(pressed['quiet']):.0f} ms quiet, {p95(pressed['flood']):.0f} ms"
        " while one account queues (target <= 1,000 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
