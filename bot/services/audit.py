"""The audit log: append-only and hash-chained, so an altered or removed row is found at an inspection."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditLog

GENESIS = "0" * 64


def chain_hash(
    prev_hash: str, at: datetime, actor: int | None, action: str, subject: str, detail: dict[str, Any]
) -> str:
    body = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), actor, action, subject, detail],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def lock_chain(session: AsyncSession, name: str) -> None:
    """Serialise appends to one chain on PostgreSQL (SQLite serialises writers already)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "big")
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def record(
    session: AsyncSession, now: datetime, actor_staff_id: int | None, action: str, subject: str, **detail: Any
) -> AuditLog:
    await lock_chain(session, "audit_log")
    prev = await session.scalar(select(AuditLog.hash).order_by(AuditLog.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    row = AuditLog(
        at=now,
        actor_staff_id=actor_staff_id,
        action=action,
        subject=subject,
        detail=detail,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, now, actor_staff_id, action, subject, detail),
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None  # id of the first row whose hash or link does not hold
    reason: str | None


async def verify(session: AsyncSession) -> ChainReport:
    prev_hash = GENESIS
    checked = 0
    rows = await session.stream_scalars(select(AuditLog).order_by(AuditLog.id))
    async for row in rows:
        if row.prev_hash != prev_hash:
            return ChainReport(checked, row.id, "prev_hash does not match the previous row")
        expected = chain_hash(row.prev_hash, row.at, row.actor_staff_id, row.action, row.subject, row.detail)
        if row.hash != expected:
            return ChainReport(checked, row.id, "the row's content does not match its hash")
        prev_hash = row.hash
        checked += 1
    return ChainReport(checked, None, None)
