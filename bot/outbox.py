"""The dispatcher: one per process, woken the moment outbox rows are committed, sends them within each
channel's limits, in order per chat, most urgent first.

Crash rule (a row found in `sending` at start-up, i.e. in flight when the process died): edits, answers
and deletes are simply performed again (they are idempotent). A new message is looked up first: the
channel probes whether it arrived (Telegram: a no-op edit of the message ids above the last one we know
in that chat; WeCom: the API's own duplicate check). If it arrived it is marked sent, else it is sent
again. So nobody is silently skipped, and a duplicate needs the probe itself to fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.db.models import Binding, OutboxMessage
from bot.db.session import Database
from bot.handlers.base import Priority

log = logging.getLogger("baomi.outbox")

MAX_ATTEMPTS = 8
FETCH = 500


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # try again later (network, 5xx, 429)
    UNREACHABLE = "unreachable"  # the account blocked the bot or is gone
    FAILED = "failed"  # the channel refused this operation for good


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    message_id: str | None = None
    retry_after: float | None = None  # seconds; set for 429
    error: str | None = None


@dataclass(frozen=True)
class Limits:
    per_second: float  # over all chats
    burst: int
    # Proactive messages (alerts, reminders, broadcasts) to one chat at most this often; replies burst.
    chat_interval: float
    concurrency: int


@dataclass(frozen=True)
class Operation:
    """What a channel needs to perform one row, detached from the database session."""

    id: int
    chat_id: str
    op: str
    payload: dict[str, Any]
    priority: int
    probe_after: str | None = None


class Sender(Protocol):
    name: str
    limits: Limits

    async def perform(self, op: Operation) -> Result: ...

    async def find_delivered(self, op: Operation) -> str | None:
        """For a send in flight at a crash: the message id if it arrived, else None."""
        ...


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def delay(self) -> float:
        """Seconds until a token is free (0 means take it now; the token is then taken)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class _ChannelState:
    bucket: TokenBucket
    paused_until: float = 0.0
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))
    last_chat_send: dict[str, float] = field(default_factory=dict)
    last_message_id: dict[str, str | None] = field(default_factory=dict)


class Dispatcher:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.senders: dict[str, Sender] = {}
        self._state: dict[str, _ChannelState] = {}
        self._wake = asyncio.Event()
        self._busy: set[tuple[str, str]] = set()  # (channel, chat) with a worker running
        self._tasks: set[asyncio.Task[None]] = set()
        self.recovered = False

    def add_sender(self, sender: Sender) -> None:
        self.senders[sender.name] = sender
        limits = sender.limits
        self._state[sender.name] = _ChannelState(
            TokenBucket(limits.per_second, limits.burst), slots=asyncio.Semaphore(limits.concurrency)
        )

    def wake(self) -> None:
        self._wake.set()

    @property
    def idle(self) -> bool:
        return not self._busy

    async def run(self, stop: asyncio.Event) -> None:
        await self.recover()
        while not stop.is_set():
            self._wake.clear()
            wait = await self.dispatch_due()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
        # Finish what is in flight so that nothing is left in `sending` by a clean stop.
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def recover(self) -> None:
        """Resolve rows that were in flight when the previous process died (see the module docstring)."""
        async with self.db.sessions() as session:
            rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.status == "sending"))).all()
        for row in rows:
            sender = self.senders.get(row.channel)
            if sender is None:
                continue
            found = None
            if row.op == "send":
                found = await sender.find_delivered(_operation(row))
            async with self.db.transaction() as session:
                values: dict[str, Any] = (
                    {"status": "sent", "message_id": found, "sent_at": self.clock.now()}
                    if found
                    else {"status": "pending"}
                )
                await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
            log.info("outbox %s in flight at restart: %s", row.id, "delivered" if found else "resend")
        self.recovered = True

    async def dispatch_due(self) -> float:
        """Start a worker for each chat with due rows; returns how long to wait before looking again."""
        now = self.clock.now()
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.channel, OutboxMessage.chat_id)
                    .where(
                        OutboxMessage.status == "pending",
                        or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
                    )
                    .order_by(OutboxMessage.priority, OutboxMessage.id)
                    .limit(FETCH)
                )
            ).all()
            next_due = await session.scalar(
                select(OutboxMessage.not_before)
                .where(OutboxMessage.status == "pending", OutboxMessage.not_before > now)
                .order_by(OutboxMessage.not_before)
                .limit(1)
            )
        for channel, chat_id in dict.fromkeys((r[0], r[1]) for r in rows):
            key = (channel, chat_id)
            if key in self._busy or channel not in self.senders:
                continue
            self._busy.add(key)
            task = asyncio.create_task(self._chat_worker(channel, chat_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if next_due is None:
            return 5.0
        return min(5.0, max(0.05, (next_due - now).total_seconds()))

    async def _chat_worker(self, channel: str, chat_id: str) -> None:
        """Send one chat's due rows one after another, so that they arrive in order."""
        sender = self.senders[channel]
        state = self._state[channel]
        try:
            while True:
                op = await self._claim_next(channel, chat_id, state)
                if op is None:
                    return
                await self._pace(sender, state, op)
                async with state.slots:
                    try:
                        result = await sender.perform(op)
                    except Exception as exc:  # a bug in a sender must not kill the dispatcher
                        log.exception("outbox %s: sender raised %s", op.id, type(exc).__name__)
                        result = Result(Outcome.RETRY, error=type(exc).__name__)
                await self._record(channel, chat_id, op, result, state)
        finally:
            self._busy.discard((channel, chat_id))
            self._wake.set()

    async def _claim_next(self, channel: str, chat_id: str, state: _ChannelState) -> Operation | None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            row = await session.scalar(
                select(OutboxMessage)
                .where(
                    OutboxMessage.channel == channel,
                    OutboxMessage.chat_id == chat_id,
                    OutboxMessage.status == "pending",
                    or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
                )
                .order_by(OutboxMessage.priority, OutboxMessage.id)
                .limit(1)
            )
            if row is None:
                return None
            if chat_id not in state.last_message_id:
                state.last_message_id[chat_id] = await _last_message_id(session, channel, chat_id)
            row.status = "sending"
            row.attempts += 1
            row.probe_after = state.last_message_id[chat_id]
            return _operation(row)

    async def _pace(self, sender: Sender, state: _ChannelState, op: Operation) -> None:
        while True:
            pause = state.paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if op.priority > Priority.INTERACTIVE and op.op == "send":
                since = time.monotonic() - state.last_chat_send.get(op.chat_id, 0.0)
                if since < sender.limits.chat_interval:
                    await asyncio.sleep(sender.limits.chat_interval - since)
                    continue
            if op.op in ("answer", "delete", "menu"):
                return  # not counted toward Telegram's message limits
            delay = state.bucket.delay()
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def _record(self, channel: str, chat_id: str, op: Operation, result: Result, state: _ChannelState) -> None:
        now = self.clock.now()
        values: dict[str, Any]
        if result.outcome is Outcome.SENT:
            values = {"status": "sent", "sent_at": now, "message_id": result.message_id, "error": None}
            if op.op == "send":
                state.last_chat_send[chat_id] = time.monotonic()
                if result.message_id:
                    state.last_message_id[chat_id] = result.message_id
        elif result.outcome is Outcome.RETRY:
            if result.retry_after is not None:
                # Telegram's 429 is for the whole bot as often as for one chat: hold the channel.
                state.paused_until = max(state.paused_until, time.monotonic() + result.retry_after)
                delay = result.retry_after
            else:
                attempts = await self._attempts(op.id)
                delay = min(300.0, 2.0 ** max(0, attempts - 1))
                if attempts >= MAX_ATTEMPTS:
                    values = {"status": "failed", "error": (result.error or "retries exhausted")[:200]}
                    await self._update(op.id, values)
                    log.warning("outbox %s failed after %s attempts: %s", op.id, attempts, result.error)
                    return
            values = {"status": "pending", "not_before": now + timedelta(seconds=delay), "error": result.error}
        elif result.outcome is Outcome.UNREACHABLE:
            values = {"status": "unreachable", "error": result.error}
            async with self.db.transaction() as session:
                await session.execute(
                    update(Binding)
                    .where(Binding.channel == channel, Binding.chat_id == chat_id, Binding.unreachable_at.is_(None))
                    .values(unreachable_at=now)
                )
        else:
            values = {"status": "failed", "error": (result.error or "")[:200]}
            log.warning("outbox %s (%s) refused by %s: %s", op.id, op.op, channel, result.error)
        await self._update(op.id, values)

    async def _update(self, row_id: int, values: dict[str, Any]) -> None:
        async with self.db.transaction() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))

    async def _attempts(self, row_id: int) -> int:
        async with self.db.sessions() as session:
            return int(await session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == row_id)) or 0)

    async def drain(self) -> None:
        """Send everything that is due now and return when nothing is left in flight (CLI and tests;
        callers bound it with asyncio.timeout)."""
        if not self.recovered:
            await self.recover()
        while True:
            await self.dispatch_due()
            if self._tasks:
                await asyncio.wait(set(self._tasks))
            elif not await self._has_due():
                return

    async def _has_due(self) -> bool:
        now = self.clock.now()
        async with self.db.sessions() as session:
            return (
                await session.scalar(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.status == "pending",
                        or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
                    )
                    .limit(1)
                )
            ) is not None


def _operation(row: OutboxMessage) -> Operation:
    return Operation(row.id, row.chat_id, row.op, dict(row.payload), row.priority, row.probe_after)


async def _last_message_id(session: AsyncSession, channel: str, chat_id: str) -> str | None:
    return await session.scalar(
        select(OutboxMessage.message_id)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.op == "send",
            OutboxMessage.status == "sent",
            OutboxMessage.message_id.is_not(None),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
