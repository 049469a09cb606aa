"""The dispatcher: one per process, woken the moment outbox rows are committed, sends them within each
channel's limits, in order per chat, most urgent first. Every proactive message (alerts, reminders,
broadcasts) goes through it, written as a row before it is sent.

Each step is one transaction: it records the outcomes of what finished and claims what is due, both
batched (one statement each). A chat has at most one message in flight, so its messages go out one at a time
and in order; rows are claimed by priority (a reply, then a leak alert, a reminder, a broadcast), so an alert
written while a broadcast is running goes out before the broadcast's remaining rows. What the channel does not
count as a message (`Limits.uncounted`: on Telegram answering a press, deleting, a command menu) is performed at
once, outside the chat's order and the budget: a press is answered while its chat's backlog waits.

Limits, per channel (`Limits`; Telegram 30 a second overall and one a second per chat, WeCom its own): a
sliding window of `per_second` counted operations, each counted from its start until a second after its answer
came back, the starts spread evenly over the second (`Window`: bunching in transit cannot break the limit); a second
(`chat_interval`) between the answer to one counted operation to a chat and the start of the next, replies
included, and for reminders and broadcasts EXCHANGE seconds after the last reply to the chat (the person is talking
with the bot: a notice started then would make their next answer wait out the chat's second); a number of operations
in flight, of which bulk rows (broadcasts) may not take the last quarter.
A counted row is claimed up to LEAD before its place in the window and its chat are free, and waits in its
channel's queue; the queue starts each the moment its place is free, the most urgent first (`_pace`): a reply or
an alert claimed after a broadcast's rows takes the next place before them, so a conversation under way waits for
a broadcast about a thirtieth of a second, and the broadcast has the whole window. (python-telegram-bot's
AIORateLimiter is not used: it has no per-chat limit for private chats and raises RetryAfter to the caller unless
max_retries is set.)

Outcomes: a 429 holds the chat when we had written to it just before (its own limit), otherwise the whole
channel, for its `retry_after` counted from the moment the refusal came back; the row keeps its place first in
its chat and is not charged an attempt. A 403 (blocked, deactivated) marks the row and the binding unreachable,
for the delivery report and every later message; network errors and 5xx are retried with exponential backoff,
up to MAX_ATTEMPTS — but only when the channel worked meanwhile (another operation was answered after this one
started): while nothing gets through, the channel is out, not the row, so the row is not charged an attempt and the
whole channel waits (1, 2, 4 … 60 s, logged once per outage). A Bot API down for an hour loses nothing. Anything else
the channel refuses is failed. After each step the sources of the rows just
recorded are handed to `on_recorded`, at most every FOLLOW_EVERY seconds (a broadcast's progress bar and
delivery report follow them).

Crash rule (a row found in `sending` that this dispatcher did not claim: in flight when the process before it
died, or when the previous leader lost its lead — bot/leadership.py): edits, answers and deletes are simply
performed again (they are idempotent). A new message is looked up first: the
channel probes whether it arrived (Telegram: a no-op edit of the message ids above the last one we know
in that chat; WeCom: the API's own duplicate check). If it arrived it is marked sent, else it is sent
again. So nobody is silently skipped, and a duplicate needs the probe itself to fail.

Fencing (PostgreSQL, several instances): a claim stamps the row with the leader's term (`epoch`), and an
outcome is recorded only where the row is still `sending` with that term and that attempt. A new leader leaves
the rows of an earlier term alone — and their chats idle, so that nothing overtakes them — until `send_timeout`
and a second have passed since it took over: by then every operation the previous leader had started has ended
(each is cut off at `send_timeout`). Then it resolves them as above, each with a conditional update; it looks
again every REAP_EVERY seconds. On SQLite the process before this one is dead: its rows are resolved at once.

The trade-off: a probe costs a few API calls per row in flight (at most `concurrency` rows, probed
concurrently, each taking its place in the window and waiting out 429s), and trusts that a message above the highest one
we know in the chat is ours; if the probe cannot tell (its own call keeps failing) the row is sent again,
preferring a rare duplicate to a silent loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.core.channel import Channel, Limits, Operation, Outcome, Result
from bot.core.flow import ChartDrawer, Priority
from bot.core.outbox_rows import OUTBOX
from bot.core.supervise import Backoff, Pulse, is_outage
from bot.db.models import Binding, OutboxMessage
from bot.db.session import Database

log = logging.getLogger("baomi.outbox")

MAX_ATTEMPTS = 8
BULK = Priority.BROADCAST  # rows at this priority or later are bulk: they let the rest pass and leave them slots
FOLLOW_EVERY = 0.25  # seconds between `on_recorded` calls while rows are still in flight
# Seconds ahead of a free place in the window that a row is claimed; it waits in its channel's queue and is sent the
# moment the place is free (`_pace`), so the claim's own transaction and the loop's round do not cost the window.
LEAD = 0.25
REAP_EVERY = 10.0  # seconds between looks for rows an earlier leader left in `sending`
# Seconds after a reply to a chat during which its reminders and broadcasts wait, where the channel spaces the messages
# to a chat: the person is in an exchange with the bot, and a notice started then would make their next answer wait
# out the chat's second (alerts do not wait).
EXCHANGE = 5.0
FORGET_EVERY = 60.0  # seconds between clearing what the dispatcher keeps per chat and no longer needs


# The step's statements, built once (their cache keys are then worked out once, not at every step), on the table:
# the ORM's bulk paths would only add work.
_ROW = (OUTBOX.c.id, OUTBOX.c.channel, OUTBOX.c.chat_id, OUTBOX.c.op, OUTBOX.c.priority)
_DUE = or_(OUTBOX.c.not_before.is_(None), OUTBOX.c.not_before <= bindparam("now"))
DUE = (
    select(*_ROW)
    .where(OUTBOX.c.status == "pending", _DUE)
    .order_by(OUTBOX.c.priority, OUTBOX.c.id)
    .limit(bindparam("n"))
)
# Answers to presses (not counted by the channel) due now, the oldest first.
UNCOUNTED_DUE = (
    select(*_ROW)
    .where(
        OUTBOX.c.status == "pending",
        OUTBOX.c.priority == Priority.INTERACTIVE,
        OUTBOX.c.op.in_(bindparam("ops", expanding=True)),
        _DUE,
    )
    .order_by(OUTBOX.c.id)
    .limit(bindparam("n"))
)
NEXT_DUE = select(func.min(OUTBOX.c.not_before)).where(
    OUTBOX.c.status == "pending", OUTBOX.c.not_before > bindparam("now")
)
# SKIP LOCKED lets several dispatchers share the outbox on PostgreSQL (SQLite ignores it).
CLAIM = (
    update(OUTBOX)
    .where(
        OUTBOX.c.id.in_(
            select(OUTBOX.c.id)
            .where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)), OUTBOX.c.status == "pending")
            .with_for_update(skip_locked=True)
        )
    )
    .values(status="sending", attempts=OUTBOX.c.attempts + 1, epoch=bindparam("term"))
    .returning(
        OUTBOX.c.id,
        OUTBOX.c.chat_id,
        OUTBOX.c.op,
        OUTBOX.c.payload,
        OUTBOX.c.priority,
        OUTBOX.c.attempts,
        OUTBOX.c.channel,
        OUTBOX.c.source,
    )
)
# An outcome, only for the claim it belongs to: still in flight, by this term, at this attempt.
RECORD = (
    update(OUTBOX)
    .where(
        OUTBOX.c.id == bindparam("row_id"),
        OUTBOX.c.status == "sending",
        func.coalesce(OUTBOX.c.epoch, 0) == bindparam("term"),
        OUTBOX.c.attempts == bindparam("claimed"),
    )
    .values(
        status=bindparam("status"),
        sent_at=bindparam("sent_at"),
        message_id=bindparam("message_id"),
        not_before=bindparam("not_before"),
        error=bindparam("error"),
        attempts=bindparam("attempts"),
    )
)


class Window:
    """The channel's overall limit as Telegram counts it: at most `limit` counted operations in any `seconds`.

    A send counts from the moment it starts until `seconds` after its answer came back. Telegram received it
    somewhere in between, so however the requests bunch in transit (a busy event loop sends several at once),
    no window of the server's can hold more than `limit` of them: of the requests it received within one window,
    the one started last saw every other either still in flight or answered less than `seconds` before.
    The round trip is the price: on loopback a few milliseconds a send.

    Within that, starts are spread evenly (`spacing`, a thirtieth of a second on Telegram) rather than let go in
    bursts of the whole window: each on the slot after the one before, not after the moment that one actually
    started, so the event loop's lateness is not added to every slot. Slots missed while the loop was busy are
    made up at once, up to `burst` of them (a token bucket of `burst` inside the window: it lets no more through
    than the window does); so is the start after a pause."""

    def __init__(self, limit: float, seconds: float = 1.0, burst: int = 8) -> None:
        self.limit = limit
        self.seconds = seconds
        self.spacing = seconds / limit
        self.burst = burst
        self.answered: deque[float] = deque()  # monotonic answer times within the last `seconds`
        self.inflight = 0
        self.next_slot = float("-inf")  # monotonic, the earliest the next may start

    def free_at(self, mono: float, count: int = 1) -> float:
        """The instant (monotonic, `mono` at the earliest) by which `count` more may have started."""
        while self.answered and self.answered[0] <= mono - self.seconds:
            self.answered.popleft()
        slot = self._slot(mono) + (count - 1) * self.spacing
        short = count - (self.limit - self.inflight - len(self.answered))
        if short <= 0:
            place = mono
        elif short > len(self.answered):  # those in flight leave a second after their answer, not before now
            place = mono + self.seconds
        else:  # the answers leave the window oldest first
            place = self.answered[int(short) - 1] + self.seconds
        return max(mono, slot, place)

    def start(self, mono: float) -> None:
        self.inflight += 1
        self.next_slot = self._slot(mono) + self.spacing

    def _slot(self, mono: float) -> float:
        """The next slot: no further behind than `burst` slots may be made up at once."""
        return max(self.next_slot, mono - (self.burst - 1) * self.spacing)

    def answer(self, mono: float) -> None:
        self.inflight -= 1
        if self.limit != float("inf"):
            self.answered.append(mono)


@dataclass
class _ChannelState:
    window: Window
    slots: int  # operations in flight at once
    bulk_slots: int  # of which bulk rows may hold at most this many
    inflight: int = 0  # claimed, waiting for their turn or performed
    bulk_inflight: int = 0
    # Counted operations claimed and waiting for their place in the window, most urgent first (`Dispatcher._pace`).
    queue: list[_Turn] = field(default_factory=list)
    picked: int = 0  # rows being claimed by a step right now, of which
    picked_urgent: int = 0  # not bulk
    timer: asyncio.TimerHandle | None = None  # when the queue's first operation may start
    side_inflight: int = 0  # operations the channel does not count (answers to presses), in flight
    paused_until: float = 0.0  # monotonic; set by a 429 that holds the whole channel
    # When the last counted operation to each chat was answered (monotonic), replies included: the next one keeps
    # its distance (Telegram's per-chat limit counts both, and a 429 holds the chat or the bot).
    last_chat_send: dict[str, float] = field(default_factory=dict)
    last_reply: dict[str, float] = field(default_factory=dict)  # chat -> when the last reply to it was answered
    held: dict[str, float] = field(default_factory=dict)  # chat -> monotonic end of a 429 that holds only it
    answered_ok: float = 0.0  # monotonic, when an operation last came back sent: the channel works
    outage: int = 0  # operations failed in a row while nothing came back sent (0: no outage)

    @classmethod
    def of(cls, limits: Limits) -> _ChannelState:
        slots = max(1, limits.concurrency)
        return cls(Window(limits.per_second), slots, max(1, slots - slots // 4))

    def hold(self, chat_id: str, started: float, answered: float, retry_after: float, interval: float) -> None:
        """A 429 holds the chat when we had just written to it (its own limit), else the channel; from the
        moment the refusal came back, for as long as it says."""
        last = self.last_chat_send.get(chat_id)
        if interval > 0 and last is not None and started - last < 2 * interval:
            self.held[chat_id] = max(self.held.get(chat_id, 0.0), answered + retry_after)
        else:
            self.paused_until = max(self.paused_until, answered + retry_after)

    def ready_at(self, chat_id: str, interval: float, priority: int) -> float:
        """When the chat may be written to again (its second since the last answer; a 429 that holds it; for a
        reminder or a broadcast, EXCHANGE after the last reply)."""
        at = max(self.last_chat_send.get(chat_id, -1e9) + interval, self.held.get(chat_id, -1e9))
        if interval > 0 and priority >= Priority.REMINDER:
            at = max(at, self.last_reply.get(chat_id, -1e9) + EXCHANGE)
        return at

    def forget(self, mono: float, interval: float) -> None:
        """Drop the per-chat instants that no longer hold anything back (and that would grow with every chat ever
        written to): a chat's second, the window `hold` looks back over, the exchange, a 429 that ended."""
        for times, keep in ((self.last_chat_send, 2 * interval), (self.last_reply, EXCHANGE), (self.held, 0.0)):
            for chat in [chat for chat, at in times.items() if at + keep < mono]:
                del times[chat]

    def ahead(self, bulk: bool) -> int:
        """Claimed operations that start before a new one of this kind: replies and alerts pass bulk rows."""
        urgent = sum(1 for turn in self.queue if turn.priority < BULK) + self.picked_urgent
        return len(self.queue) + self.picked if bulk else urgent


@dataclass(order=True)
class _Turn:
    """A claimed counted operation waiting for its place: started by `Dispatcher._pace` when it is first in the
    order, its chat may be written to (`ready_at`) and the window has room."""

    priority: int
    row_id: int
    ready_at: float = field(compare=False)
    go: asyncio.Future[None] = field(compare=False)


Follower = Callable[[frozenset[str]], Awaitable[None]]
FileMaker = Callable[[Mapping[str, Any]], Awaitable[dict[str, str] | None]]  # bot.core.exports.Exports.make


class Dispatcher:
    """One loop: record what finished, then claim the first due row of every idle chat (one transaction for
    the lot), as many as the channels' free slots and budgets allow, and perform them concurrently. A chat
    stays busy until its row's outcome is recorded, so its rows go out one at a time and in order."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        channels: Mapping[str, Channel],
        batch: int = 200,
        draw_chart: ChartDrawer | None = None,
        make_file: FileMaker | None = None,
        send_timeout: float = 30.0,
    ) -> None:
        self.db = db
        self.send_timeout = send_timeout  # the longest one operation may take; then it is retried
        self.outage_backoff = Backoff(first=1.0, most=60.0)  # a channel's pauses while nothing gets through
        self.clock = clock
        self.batch = batch
        # Draws a row's chart into the image the channels send (compliance.charts.draw); without it, or when it
        # cannot, the caption is sent alone.
        self.draw_chart = draw_chart
        # Makes a row's export (bot/core/exports.py) when it is sent; without it, or when it cannot, the text alone.
        self.make_file = make_file
        self.senders = channels
        # What no channel counts as a message (answers to presses), looked for apart when claiming.
        self._uncounted_ops = sorted({op for channel in channels.values() for op in channel.limits.uncounted})
        self._state = {name: _ChannelState.of(channel.limits) for name, channel in channels.items()}
        self._wake = asyncio.Event()
        self._inflight: set[tuple[str, str]] = set()  # (channel, chat) with a row performed but not recorded yet
        self._reserved: set[tuple[str, str]] = set()  # (channel, chat) being claimed by a step right now
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: list[tuple[Operation, Result]] = []
        self._progress = asyncio.Event()  # set whenever rows are claimed or their outcomes recorded
        self._steps = 0  # steps that claimed rows or recorded outcomes (`idle` sees whether one ran meanwhile)
        self.recovered = False
        self._recovery = asyncio.Lock()
        # Chats with a row an earlier leader left in `sending`: none of their rows is claimed until it is resolved.
        self._held: set[tuple[str, str]] = set()
        self._term_began = 0.0  # monotonic, when this dispatcher began to run for its leader
        self._term: object = _NO_TERM  # the leadership term it runs for (None: no leadership, SQLite)
        self._next_reap = 0.0
        # Called with the sources of rows just recorded (e.g. to update a broadcast's progress message).
        self.on_recorded: list[Follower] = []
        self._recorded_sources: set[str] = set()
        self._followed_at = 0.0
        self._following = 0  # followers running now (they may be about to queue rows)
        self._forgot_at = time.monotonic()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, pulse: Pulse) -> None:
        """Step whenever woken or due, until `stop` is set. A database outage ends the run (the supervisor runs it
        again): operations in flight go on, and their outcomes are recorded by the next step that commits. A run
        for a new leadership term starts afresh: nothing of an earlier term is this run's."""
        if self._term is _NO_TERM or self._term != self.db.epoch:
            self._begin_term()
        await self._recover_once()
        while not stop.is_set():
            self._wake.clear()
            if time.monotonic() >= self._next_reap:
                await self.recover()
            wait = min(await self.step(), max(0.0, self._next_reap - time.monotonic()))
            pulse.beat()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
        # A clean stop finishes and records what is in flight, so nothing is left in `sending`.
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.step(claim=False)
        await self._follow([], force=True)  # what they queue is sent after the restart

    async def drain(self) -> None:
        """Perform everything due now and return when nothing is in flight (CLI and tests; callers bound
        it with asyncio.timeout)."""
        await self._recover_once()
        while True:
            wait = await self.step()
            if self._tasks:
                await asyncio.wait(set(self._tasks))
                continue
            if self._done:
                continue
            if self._recorded_sources:
                await self._follow([], force=True)  # what the followers queue is due now too
                continue
            if await self.idle():
                return
            # Due rows held back by pacing, or being claimed by the running loop: wait for either.
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=wait)

    async def _recover_once(self) -> None:
        """Recover unless done already. The loop and `drain` may both start at once: the second waits for the first
        (on SQLite a second look would take the rows the first one's loop has claimed since for a dead process's)."""
        async with self._recovery:
            if not self.recovered:
                await self.recover()

    def _begin_term(self) -> None:
        """A new run (this process leads now): nothing of an earlier run is in flight any more."""
        self._inflight.clear()
        self._reserved.clear()
        self._done.clear()
        self._held.clear()
        for state in self._state.values():
            state.inflight = state.bulk_inflight = state.side_inflight = 0
        self._term_began = time.monotonic()
        self._term = self.db.epoch
        self.recovered = False

    async def recover(self, at_once: bool = False) -> None:
        """Resolve rows an earlier process or leader left in `sending` (see the module docstring): hold their
        chats, and once the grace has passed, probe and resolve each. `at_once`: the caller knows that whoever
        claimed them is gone."""
        mine = self.db.epoch
        query = select(OutboxMessage).where(OutboxMessage.status == "sending")
        if mine is not None:
            query = query.where(func.coalesce(OutboxMessage.epoch, 0) != mine)
        grace = 0.0 if mine is None or at_once else self.send_timeout + 1.0
        ready_at = self._term_began + grace
        async with self.db.sessions() as session:
            rows = (await session.scalars(query)).all()
            self._held = {(row.channel, row.chat_id) for row in rows}
            if rows and time.monotonic() < ready_at:
                self._next_reap = ready_at  # their chats wait till then; everything else goes on
                return
            # On SQLite only the process before this one can have left rows: they are looked for once, at the start.
            self._next_reap = time.monotonic() + REAP_EVERY if mine is not None else float("inf")
            # Sends to one chat go one at a time, so every message of ours above the highest one recorded for
            # the chat can only be this row's: the probe starts above it.
            bases = {row.id: await _last_message_id(session, row.channel, row.chat_id, row.id) for row in rows}
        # Rows of different chats are probed concurrently: a probe may have to wait out a chat's limit.
        gate = asyncio.Semaphore(max((state.slots for state in self._state.values()), default=1))

        async def resolve(row: OutboxMessage) -> None:
            sender = self.senders.get(row.channel)
            if sender is None:
                return
            found = None
            if row.op == "send":
                async with gate:
                    # A probe is an edit, counted by the channel like a message: it takes its place in the window.
                    window = self._state[row.channel].window
                    while (at := window.free_at(mono := time.monotonic())) > mono:  # noqa: ASYNC110 (time, not an event)
                        await asyncio.sleep(at - mono)
                    window.start(time.monotonic())
                    try:
                        found = await sender.find_delivered(replace(_operation(row), probe_after=bases[row.id]))
                    finally:
                        window.answer(time.monotonic())
            values: dict[str, Any] = (
                {"status": "sent", "message_id": found, "sent_at": self.clock.now()} if found else {"status": "pending"}
            )
            async with self.db.transaction(fenced=True) as session:
                # Only as it was read: no one else resolves it meanwhile, but nothing is assumed.
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == row.id,
                        OutboxMessage.status == "sending",
                        func.coalesce(OutboxMessage.epoch, 0) == (row.epoch or 0),
                        OutboxMessage.attempts == row.attempts,
                    )
                    .values(**values)
                )
            log.info("outbox %s in flight at restart: %s", row.id, "delivered" if found else "resend")

        await asyncio.gather(*(resolve(row) for row in rows))
        self._recorded_sources.update(row.source for row in rows if row.source)  # e.g. a broadcast just finished
        self._held.clear()
        self.recovered = True

    async def step(self, claim: bool = True) -> float:
        """In one transaction, record what finished and claim what pacing allows of what is due; then start
        the claimed operations. Returns how long to wait before looking again."""
        done, self._done = self._done, []
        wait = 5.0
        claimed: list[Operation] = []
        reserved: set[tuple[str, str]] = set()
        picks: list[tuple[str, bool]] = []  # (channel, bulk) of the counted rows picked, until they are queued
        ready_at: dict[int, float] = {}
        try:
            async with self.db.transaction(fenced=True, inline=True) as session:
                if done:
                    await self._record(session, done)
                if claim:
                    wait, claimed = await self._claim_due(session, reserved, picks, ready_at)
        except BaseException:
            self._done[:0] = done  # performed all the same: recorded by the next step that commits
            raise
        finally:
            self._reserved -= reserved
            for channel, bulk in picks:
                self._state[channel].picked -= 1
                self._state[channel].picked_urgent -= not bulk
        for op, _ in done:
            self._release(op)
        if (mono := time.monotonic()) - self._forgot_at > FORGET_EVERY:
            self._forgot_at = mono
            for name, state in self._state.items():
                state.forget(mono, self.senders[name].limits.chat_interval)
        loop = asyncio.get_running_loop()
        for op in claimed:
            state = self._state[op.channel]
            turn = None
            if self._counted(op):
                self._inflight.add((op.channel, op.chat_id))
                state.inflight += 1
                if op.priority >= BULK:
                    state.bulk_inflight += 1
                turn = _Turn(op.priority, op.id, ready_at.get(op.id, 0.0), loop.create_future())
                if not _has_file(op):  # else queued once its file is made
                    state.queue.append(turn)
            else:
                state.side_inflight += 1
            task = asyncio.create_task(self._perform(op, turn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for channel in {op.channel for op in claimed}:
            self._pace(channel)
        if done or claimed:
            self._steps += 1
            self._progress.set()
        await self._follow(done)
        if done:
            return 0.0  # chats freed just now may have further rows that this step had to pass over
        return min(wait, FOLLOW_EVERY) if self._recorded_sources else wait

    def _counted(self, op: Operation) -> bool:
        """Whether the channel counts the operation as a message: those go one at a time per chat, in order,
        within the limits; the others (answering a press) are performed at once."""
        return op.op not in self.senders[op.channel].limits.uncounted

    def _release(self, op: Operation) -> None:
        state = self._state[op.channel]
        if not self._counted(op):
            state.side_inflight -= 1
            return
        self._inflight.discard((op.channel, op.chat_id))
        state.inflight -= 1
        if op.priority >= BULK:
            state.bulk_inflight -= 1

    async def _follow(self, done: list[tuple[Operation, Result]], force: bool = False) -> None:
        """Hand the sources of recorded rows to the followers, at most every FOLLOW_EVERY seconds (the loop
        comes back in time for what is held back; `drain` forces it)."""
        self._recorded_sources.update(op.source for op, _ in done if op.source)
        mono = time.monotonic()
        if not self._recorded_sources or (not force and mono - self._followed_at < FOLLOW_EVERY):
            return
        sources = frozenset(self._recorded_sources)
        self._recorded_sources.clear()
        self._followed_at = mono
        self._following += 1
        try:
            for follower in self.on_recorded:
                try:
                    await follower(sources)
                except Exception as exc:  # a follower's failure must not stop the sending
                    if is_outage(exc):
                        self._recorded_sources |= sources  # followed once the database answers again
                        raise
                    log.exception("outbox follower failed: %s", type(exc).__name__)
        finally:
            self._following -= 1

    async def _claim_due(
        self,
        session: AsyncSession,
        reserved: set[tuple[str, str]],
        picks: list[tuple[str, bool]],
        ready_at: dict[int, float],
    ) -> tuple[float, list[Operation]]:
        """Claim what is due and allowed; the chats picked are added to `reserved` (and `self._reserved`), and the
        counted rows to `picks` (counted in their channel's `picked`), before the claim is written, for the caller
        to release whatever happens to the transaction. A counted row is claimed when its place in the window is
        free within LEAD, after the rows that start before it (`_ChannelState.ahead`); `ready_at` gets the instant
        its chat may be written to, when that is not now."""
        now = self.clock.now()
        mono = time.monotonic()
        horizon = mono + LEAD
        wait = 5.0
        free = {name: state.slots - state.inflight for name, state in self._state.items()}
        side_free = {name: state.slots - state.side_inflight for name, state in self._state.items()}
        # Rows beyond what the budgets allow would only be passed over: replies come first in the order.
        room = 0  # places free within LEAD, after the replies and alerts ahead
        for name, state in self._state.items():
            ahead, places = state.ahead(bulk=False), 0
            while places < free[name] and state.window.free_at(mono, ahead + places + 1) <= horizon:
                places += 1
            room += places
        rows: list[Any] = []
        # Rows of busy chats are passed over: those in flight and those written to within the last second.
        busy = len(self._inflight) + len(self._reserved) + sum(len(st.window.answered) for st in self._state.values())
        lookahead = min(self.batch, room * 4 + busy)
        if room:
            rows = list((await session.execute(DUE, {"now": now, "n": lookahead})).all())
        else:
            for state in self._state.values():
                at = state.window.free_at(mono, state.ahead(bulk=False) + 1)
                wait = min(wait, max(0.001, at - horizon))  # a place is free soon again
        uncounted = self._uncounted_ops
        if (not room or len(rows) == lookahead) and uncounted and any(n > 0 for n in side_free.values()):
            # Answers to presses may lie beyond what was looked at (or nothing could be): they need no budget.
            found = await session.execute(UNCOUNTED_DUE, {"now": now, "ops": uncounted, "n": sum(side_free.values())})
            rows += found.all()
        picked: dict[int, None] = {}
        seen: set[tuple[str, str]] = set()
        blocked: set[str] = set()
        bulk_taken: dict[str, int] = {}
        for row_id, channel, chat_id, kind, priority in rows:
            if channel not in self.senders or row_id in picked:
                continue
            limits = self.senders[channel].limits
            state = self._state[channel]
            if kind in limits.uncounted:
                # Not a message: performed at once, outside the chat's order and the channel's budget.
                if side_free[channel] > 0:
                    picked[row_id] = None
                    side_free[channel] -= 1
                continue
            key = (channel, chat_id)
            if key in seen or key in self._inflight or key in self._reserved or key in self._held or channel in blocked:
                seen.add(key)
                continue
            seen.add(key)  # later rows of this chat wait for this one, whatever happens to it now
            if state.paused_until > horizon:
                blocked.add(channel)
                wait = min(wait, state.paused_until - horizon)
                continue
            if (chat_at := state.ready_at(chat_id, limits.chat_interval, priority)) > horizon:
                wait = min(wait, chat_at - horizon)
                continue
            bulk = priority >= BULK
            if free[channel] <= 0:
                blocked.add(channel)
                continue  # a completion wakes the loop
            if bulk and state.bulk_inflight + bulk_taken.get(channel, 0) >= state.bulk_slots:
                blocked.add(channel)  # later rows are bulk too (rows come by priority)
                continue
            if (at := state.window.free_at(mono, state.ahead(bulk) + 1)) > horizon:
                # Rows come by priority and later ones have at least as many ahead of them: they wait too.
                blocked.add(channel)
                wait = min(wait, at - horizon)
                continue
            picked[row_id] = None
            reserved.add(key)
            free[channel] -= 1
            # Its place is promised now: a concurrent step (drain) must see it before this one's claim.
            picks.append((channel, bulk))
            state.picked += 1
            state.picked_urgent += not bulk
            if chat_at > mono:
                ready_at[row_id] = chat_at
            if bulk:
                bulk_taken[channel] = bulk_taken.get(channel, 0) + 1
            if len(picked) >= self.batch:
                wait = 0.0
                break
        self._reserved |= reserved  # a concurrent step of this process must not pick them too
        return await self._claim_picked(session, list(picked), max(0.001, wait), now)

    async def _claim_picked(
        self, session: AsyncSession, picked: list[int], wait: float, now: datetime
    ) -> tuple[float, list[Operation]]:
        if not picked:
            next_due = await session.scalar(NEXT_DUE, {"now": now})
            if next_due is not None:
                wait = min(wait, max(0.01, (next_due - now).total_seconds()))
            return wait, []
        result = await session.execute(CLAIM, {"ids": picked, "term": self.db.epoch})
        claimed = [Operation(r[0], r[1], r[2], dict(r[3]), r[4], None, r[5], r[6], r[7]) for r in result.all()]
        claimed.sort(key=lambda op: (op.priority, op.id))
        return wait, claimed

    def _pace(self, channel: str) -> None:
        """Start the channel's queued operations whose turn has come: the most urgent first whose chat may be
        written to, each the moment the window has room (not while a 429 holds the channel); then come back when
        the next one may start."""
        state = self._state[channel]
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        state.queue = [turn for turn in state.queue if not turn.go.done()]  # cancelled meanwhile
        while state.queue:
            mono = time.monotonic()
            ready = [turn for turn in state.queue if turn.ready_at <= mono]
            at = max(state.paused_until, state.window.free_at(mono))
            if not ready or at > mono:
                at = max(at, min(turn.ready_at for turn in state.queue))
                state.timer = asyncio.get_running_loop().call_at(at, self._pace, channel)
                return
            turn = min(ready)
            state.queue.remove(turn)
            state.window.start(mono)
            turn.go.set_result(None)

    async def _perform(self, op: Operation, turn: _Turn | None) -> None:
        """Perform a claimed row: its file made first, then (a counted operation) in its turn."""
        sender = self.senders[op.channel]
        state = self._state[op.channel]
        result: Result | None = None
        bug = False
        if _has_file(op):
            try:
                op = await self._with_file_made(op)
            except Exception as exc:
                bug, result = self._raised(op, exc)
            if turn is not None and result is None:  # queued once made: no place in the window waits for it
                state.queue.append(turn)
                self._pace(op.channel)
        if turn is not None:
            if result is None:
                await self._take_turn(state, turn)
            else:  # never queued: it took no place
                turn = None
        started = time.monotonic()
        if result is None:
            try:
                async with asyncio.timeout(self.send_timeout):
                    result = await sender.perform(op)
            except TimeoutError:
                log.warning("outbox %s: no answer within %s s", op.id, self.send_timeout)
                result = Result(Outcome.RETRY, error="timeout")
            except Exception as exc:  # a bug in a sender must not kill the dispatcher
                bug, result = self._raised(op, exc)
        answered = time.monotonic()
        if not bug:  # a bug is the row's: charged, so that it ends
            result = self._judge_outage(op, state, result, started, answered)
        if turn is not None:
            if result.outcome is Outcome.RETRY and result.retry_after is not None:
                state.hold(op.chat_id, started, answered, result.retry_after, sender.limits.chat_interval)
            # Counted whatever the answer: a request that failed on the way back may have been delivered.
            state.window.answer(answered)
            state.last_chat_send[op.chat_id] = answered
            if op.priority == Priority.INTERACTIVE:
                state.last_reply[op.chat_id] = answered
        self._done.append((op, result))
        self._wake.set()

    @staticmethod
    async def _take_turn(state: _ChannelState, turn: _Turn) -> None:
        """Wait until `_pace` starts the operation (its place in the window is then taken)."""
        try:
            await turn.go
        except asyncio.CancelledError:
            if turn.go.cancelled() or turn.go.cancel():  # still queued
                if turn in state.queue:
                    state.queue.remove(turn)
            else:  # started just now: it never reached the channel, but its place is spent
                state.window.answer(time.monotonic())
            raise

    @staticmethod
    def _raised(op: Operation, exc: Exception) -> tuple[bool, Result]:
        """Whether an exception from making or sending the row is a bug, and the row's result."""
        bug = not is_outage(exc)
        if bug:  # an outage is logged once, by the supervisor, when the loop meets it
            log.exception("outbox %s: sender raised %s", op.id, type(exc).__name__)
        return bug, Result(Outcome.RETRY, error=type(exc).__name__)

    def _judge_outage(
        self, op: Operation, state: _ChannelState, result: Result, started: float, answered: float
    ) -> Result:
        """A failure (network, 5xx, timeout) while nothing got through since the operation started is the channel's,
        not the row's: the row waits without being charged an attempt, and the whole channel pauses."""
        if result.outcome is Outcome.SENT:
            if state.outage:
                log.warning("%s reachable again; the waiting rows are sent", op.channel)
            state.answered_ok = answered
            state.outage = 0
            return result
        if result.outcome is not Outcome.RETRY or result.retry_after is not None or state.answered_ok > started:
            return result
        if not state.outage:
            log.warning("%s unreachable (%s); rows wait without losing attempts", op.channel, result.error)
        pause = self.outage_backoff.delay(state.outage)
        state.outage += 1
        state.paused_until = max(state.paused_until, answered + pause)
        return Result(Outcome.RETRY, retry_after=pause, error=result.error)  # waits as after a 429

    async def _with_file_made(self, op: Operation) -> Operation:
        """The row with its chart drawn as an image, or its export made as a document, in a thread (the loop keeps
        sending meanwhile)."""
        payload = dict(op.payload)
        if (chart := payload.pop("chart", None)) is not None and self.draw_chart is not None:
            if (image := await asyncio.to_thread(self.draw_chart, chart)) is not None:
                payload["image"] = image
        if (export := payload.pop("export", None)) is not None and self.make_file is not None:
            if (document := await self.make_file(export)) is not None:
                payload.update(document=document, text=document["caption"])  # the text said it could not be made
        return replace(op, payload=payload)

    async def _record(self, session: AsyncSession, done: list[tuple[Operation, Result]]) -> None:
        """Write the outcomes of finished operations."""
        now = self.clock.now()
        changes: list[dict[str, Any]] = []
        unreachable: list[tuple[int, str, str]] = []  # row id, channel, chat
        for op, result in done:
            # Every row sets the same columns, so that one executemany writes them all.
            values: dict[str, Any] = {
                "row_id": op.id,
                "term": self.db.epoch or 0,
                "claimed": op.attempts,
                "sent_at": None,
                "message_id": None,
                "not_before": None,
                "attempts": op.attempts,
            }
            if result.outcome is Outcome.SENT:
                values.update(status="sent", sent_at=now, message_id=result.message_id, error=None)
            elif result.outcome is Outcome.RETRY and result.retry_after is not None:
                # A 429 says nothing about the row: not an attempt. A message waits in the chat's turn while
                # `_perform` holds the chat or the channel (so it stays first in its chat); anything else waits here.
                wait_until = None if self._counted(op) else now + timedelta(seconds=result.retry_after)
                values.update(status="pending", not_before=wait_until, attempts=op.attempts - 1, error=result.error)
            elif result.outcome is Outcome.RETRY and op.attempts < MAX_ATTEMPTS:
                delay = min(300.0, 2.0 ** max(0, op.attempts - 1))
                values.update(status="pending", not_before=now + timedelta(seconds=delay), error=result.error)
            elif result.outcome is Outcome.DEFERRED:
                delay = result.retry_after or 1.0
                # The claim counted an attempt; a deferral is none.
                values.update(
                    status="pending", not_before=now + timedelta(seconds=delay), attempts=op.attempts - 1, error=None
                )
            elif result.outcome is Outcome.UNREACHABLE:
                values.update(status="unreachable", error=result.error)
                unreachable.append((op.id, op.channel, op.chat_id))
            else:
                values.update(status="failed", error=(result.error or "retries exhausted")[:200])
                log.warning("outbox %s (%s) failed on %s: %s", op.id, op.op, op.channel, result.error)
            changes.append(values)
        await session.execute(RECORD, changes)
        if not unreachable:
            return
        # Found by the row's person where it has one (an index; a binding's chat is not indexed).
        people = dict(
            (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.staff_id).where(
                        OutboxMessage.id.in_([row_id for row_id, _, _ in unreachable])
                    )
                )
            ).all()
        )
        for row_id, channel, chat_id in unreachable:
            chat = update(Binding).where(
                Binding.channel == channel, Binding.chat_id == chat_id, Binding.unreachable_at.is_(None)
            )
            if (staff_id := people.get(row_id)) is not None:
                chat = chat.where(Binding.staff_id == staff_id)
            await session.execute(chat.values(unreachable_at=now))

    @property
    def busy(self) -> bool:
        return bool(
            self._inflight or self._reserved or self._tasks or self._done or self._recorded_sources or self._following
        )

    async def idle(self) -> bool:
        """Nothing due, in flight or being recorded, by this process's steps or the loop's (CLI and tests). A row
        the query sees in `sending` was claimed before it began: its step is then still busy when the query ends,
        or has counted a step since (an outcome is committed before its chat is released)."""
        if self.busy:
            return False
        steps = self._steps
        async with self.db.sessions() as session:
            due = await session.scalar(DUE, {"now": self.clock.now(), "n": 1})
        return due is None and not self.busy and steps == self._steps


_NO_TERM = object()


def _has_file(op: Operation) -> bool:
    """Whether the row's chart or export is made when it is sent (`Dispatcher._with_file_made`)."""
    return "chart" in op.payload or "export" in op.payload


def _operation(row: OutboxMessage) -> Operation:
    return Operation(
        row.id, row.chat_id, row.op, dict(row.payload), row.priority, None, row.attempts, row.channel, row.source
    )


async def _last_message_id(session: AsyncSession, channel: str, chat_id: str, before_id: int) -> str | None:
    """The highest message id the chat got from us before this row. Not the row sent last by id: a reply
    written after a broadcast row goes out before it."""
    found = (
        await session.scalars(
            select(OutboxMessage.message_id).where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.id != before_id,
                OutboxMessage.op.in_(("send", "edit")),
                OutboxMessage.status == "sent",
                OutboxMessage.message_id.is_not(None),
            )
        )
    ).all()
    numbers = [int(m) for m in found if m is not None and m.isdigit()]
    return str(max(numbers)) if numbers else None
