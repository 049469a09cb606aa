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
import contextlib
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
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
    attempts: int = 0
    channel: str = ""


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
        if self.rate == float("inf"):
            return 0.0
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class _ChannelState:
    bucket: TokenBucket
    slots: asyncio.Semaphore
    paused_until: float = 0.0  # monotonic; set by a 429
    last_chat_send: dict[str, float] = field(default_factory=dict)  # monotonic time of the last proactive send


class Dispatcher:
    """One loop: record what finished, then claim the first due row of every idle chat (one transaction for
    the lot) and perform them concurrently. A chat stays busy until its row's outcome is recorded, so its
    rows go out one at a time and in order."""

    def __init__(self, db: Database, clock: Clock, batch: int = 200) -> None:
        self.db = db
        self.clock = clock
        self.batch = batch
        self.senders: dict[str, Sender] = {}
        self._state: dict[str, _ChannelState] = {}
        self._wake = asyncio.Event()
        self._inflight: set[tuple[str, str]] = set()  # (channel, chat) with a row performed but not recorded yet
        self._reserved: set[tuple[str, str]] = set()  # (channel, chat) being claimed by a step right now
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: list[tuple[Operation, Result]] = []
        self._progress = asyncio.Event()  # set whenever rows are claimed or their outcomes recorded
        self.recovered = False

    def add_sender(self, sender: Sender) -> None:
        self.senders[sender.name] = sender
        limits = sender.limits
        self._state[sender.name] = _ChannelState(
            TokenBucket(limits.per_second, limits.burst), asyncio.Semaphore(limits.concurrency)
        )

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        await self.recover()
        while not stop.is_set():
            self._wake.clear()
            wait = await self.step()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
        # A clean stop finishes and records what is in flight, so nothing is left in `sending`.
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.step(claim=False)

    async def drain(self) -> None:
        """Perform everything due now and return when nothing is in flight (CLI and tests; callers bound
        it with asyncio.timeout)."""
        if not self.recovered:
            await self.recover()
        while True:
            wait = await self.step()
            if self._tasks:
                await asyncio.wait(set(self._tasks))
                continue
            if self._done:
                continue
            if not await self.has_due():
                return
            # Due rows held back by pacing, or being claimed by the running loop: wait for either.
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=wait)

    async def recover(self) -> None:
        """Resolve rows that were in flight when the previous process died (see the module docstring)."""
        async with self.db.sessions() as session:
            rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.status == "sending"))).all()
            # Sends to one chat go one at a time, so the newest message sent before the row is the last one
            # the chat had from us: the probe starts above it.
            bases = {row.id: await _last_message_id(session, row.channel, row.chat_id, row.id) for row in rows}
        for row in rows:
            sender = self.senders.get(row.channel)
            if sender is None:
                continue
            found = None
            if row.op == "send":
                found = await sender.find_delivered(replace(_operation(row), probe_after=bases[row.id]))
            values: dict[str, Any] = (
                {"status": "sent", "message_id": found, "sent_at": self.clock.now()} if found else {"status": "pending"}
            )
            async with self.db.transaction() as session:
                await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
            log.info("outbox %s in flight at restart: %s", row.id, "delivered" if found else "resend")
        self.recovered = True

    async def step(self, claim: bool = True) -> float:
        """In one transaction, record what finished and claim what pacing allows of what is due; then start
        the claimed operations. Returns how long to wait before looking again."""
        done, self._done = self._done, []
        wait = 5.0
        claimed: list[Operation] = []
        reserved: set[tuple[str, str]] = set()
        try:
            async with self.db.transaction() as session:
                if done:
                    await self._record(session, done)
                if claim:
                    wait, claimed, reserved = await self._claim_due(session)
        finally:
            self._reserved -= reserved
            for op, _ in done:
                self._inflight.discard((op.channel, op.chat_id))
        for op in claimed:
            self._inflight.add((op.channel, op.chat_id))
            task = asyncio.create_task(self._perform(op))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if done or claimed:
            self._progress.set()
        if done:
            return 0.0  # chats freed just now may have further rows that this step had to pass over
        return wait

    async def _claim_due(self, session: AsyncSession) -> tuple[float, list[Operation], set[tuple[str, str]]]:
        now = self.clock.now()
        mono = time.monotonic()
        wait = 5.0
        rows = (
            await session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.channel,
                    OutboxMessage.chat_id,
                    OutboxMessage.op,
                    OutboxMessage.priority,
                )
                .where(
                    OutboxMessage.status == "pending",
                    or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
                )
                .order_by(OutboxMessage.priority, OutboxMessage.id)
                .limit(self.batch * 4)
            )
        ).all()
        picked: list[int] = []
        reserved: set[tuple[str, str]] = set()
        seen: set[tuple[str, str]] = set()
        blocked: set[str] = set()
        for row_id, channel, chat_id, kind, priority in rows:
            key = (channel, chat_id)
            if key in seen or key in self._inflight or key in self._reserved or channel not in self.senders:
                seen.add(key)
                continue
            if channel in blocked:
                seen.add(key)
                continue
            seen.add(key)  # later rows of this chat wait for this one, whatever happens to it now
            state = self._state[channel]
            if state.paused_until > mono:
                blocked.add(channel)
                wait = min(wait, state.paused_until - mono)
                continue
            if priority > Priority.INTERACTIVE and kind == "send":
                since = mono - state.last_chat_send.get(chat_id, -1e9)
                interval = self.senders[channel].limits.chat_interval
                if since < interval:
                    wait = min(wait, interval - since)
                    continue
            if kind not in UNCOUNTED and (delay := state.bucket.delay()) > 0:
                blocked.add(channel)  # the channel's overall budget is spent for this round
                wait = min(wait, delay)
                continue
            picked.append(row_id)
            reserved.add(key)
            if len(picked) >= self.batch:
                wait = 0.0
                break
        self._reserved |= reserved  # a concurrent step of this process must not pick them too
        if not picked:
            next_due = await session.scalar(
                select(func.min(OutboxMessage.not_before)).where(
                    OutboxMessage.status == "pending", OutboxMessage.not_before > now
                )
            )
            if next_due is not None:
                wait = min(wait, max(0.01, (next_due - now).total_seconds()))
            return wait, [], reserved
        # SKIP LOCKED lets several dispatchers share the outbox on PostgreSQL (SQLite ignores it).
        claimable = (
            select(OutboxMessage.id)
            .where(OutboxMessage.id.in_(picked), OutboxMessage.status == "pending")
            .with_for_update(skip_locked=True)
        )
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(claimable))
            .values(status="sending", attempts=OutboxMessage.attempts + 1)
            .returning(
                OutboxMessage.id,
                OutboxMessage.chat_id,
                OutboxMessage.op,
                OutboxMessage.payload,
                OutboxMessage.priority,
                OutboxMessage.attempts,
                OutboxMessage.channel,
            )
            .execution_options(synchronize_session=False)
        )
        claimed = [Operation(r[0], r[1], r[2], dict(r[3]), r[4], None, r[5], r[6]) for r in result.all()]
        claimed.sort(key=lambda op: (op.priority, op.id))
        return wait, claimed, reserved

    async def _perform(self, op: Operation) -> None:
        sender = self.senders[op.channel]
        async with self._state[op.channel].slots:
            try:
                result = await sender.perform(op)
            except Exception as exc:  # a bug in a sender must not kill the dispatcher
                log.exception("outbox %s: sender raised %s", op.id, type(exc).__name__)
                result = Result(Outcome.RETRY, error=type(exc).__name__)
        self._done.append((op, result))
        self._wake.set()

    async def _record(self, session: AsyncSession, done: list[tuple[Operation, Result]]) -> None:
        """Write the outcomes of finished operations."""
        now = self.clock.now()
        mono = time.monotonic()
        changes: list[dict[str, Any]] = []
        unreachable: list[tuple[str, str]] = []
        for op, result in done:
            state = self._state[op.channel]
            # Every row sets the same columns, so that one executemany writes them all.
            values: dict[str, Any] = {"row_id": op.id, "sent_at": None, "message_id": None, "not_before": None}
            if result.outcome is Outcome.SENT:
                values.update(status="sent", sent_at=now, message_id=result.message_id, error=None)
                if op.op == "send" and op.priority > Priority.INTERACTIVE:
                    state.last_chat_send[op.chat_id] = mono
            elif result.outcome is Outcome.RETRY and op.attempts < MAX_ATTEMPTS:
                if result.retry_after is not None:
                    # Telegram's 429 holds the whole bot as often as one chat: pause the channel.
                    state.paused_until = max(state.paused_until, mono + result.retry_after)
                    delay = result.retry_after
                else:
                    delay = min(300.0, 2.0 ** max(0, op.attempts - 1))
                values.update(status="pending", not_before=now + timedelta(seconds=delay), error=result.error)
            elif result.outcome is Outcome.UNREACHABLE:
                values.update(status="unreachable", error=result.error)
                unreachable.append((op.channel, op.chat_id))
            else:
                values.update(status="failed", error=(result.error or "retries exhausted")[:200])
                log.warning("outbox %s (%s) failed on %s: %s", op.id, op.op, op.channel, result.error)
            changes.append(values)
        table = cast(Table, OutboxMessage.__table__)
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(
                status=bindparam("status"),
                sent_at=bindparam("sent_at"),
                message_id=bindparam("message_id"),
                not_before=bindparam("not_before"),
                error=bindparam("error"),
            ),
            changes,
        )
        for channel, chat_id in unreachable:
            await session.execute(
                update(Binding)
                .where(Binding.channel == channel, Binding.chat_id == chat_id, Binding.unreachable_at.is_(None))
                .values(unreachable_at=now)
            )

    @property
    def busy(self) -> bool:
        return bool(self._inflight or self._reserved or self._tasks or self._done)

    async def has_due(self) -> bool:
        now = self.clock.now()
        async with self.db.sessions() as session:
            found = await session.scalar(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == "pending",
                    or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
                )
                .limit(1)
            )
        return found is not None


# Not counted toward Telegram's message limits.
UNCOUNTED = frozenset({"answer", "delete", "menu"})


def _operation(row: OutboxMessage) -> Operation:
    return Operation(row.id, row.chat_id, row.op, dict(row.payload), row.priority, None, row.attempts, row.channel)


async def _last_message_id(session: AsyncSession, channel: str, chat_id: str, before_id: int) -> str | None:
    return await session.scalar(
        select(OutboxMessage.message_id)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.id < before_id,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.op == "send",
            OutboxMessage.status == "sent",
            OutboxMessage.message_id.is_not(None),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
