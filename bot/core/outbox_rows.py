"""Turning replies into outbox rows (inside the caller's transaction): the only way anything is said.

An "edit" row's payload carries the `message_id` to replace; with `"refresh": True` it only brings a message already
sent up to date (a leak alert's waiting time), and a channel that cannot edit it leaves it as it is."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.flow import Button, Priority, Reply
from bot.core.payload import encode
from bot.core.render import TEXT_LIMITS, split
from bot.db.models import Binding, OutboxMessage
from bot.db.session import queue_insert


def button_rows(buttons: Any, flow_prefix: str | None, version: int | None) -> list[list[dict[str, str]]]:
    rows = []
    for row in buttons:
        out = []
        for b in row:
            assert isinstance(b, Button)
            if b.target is not None:
                data = encode(b.target, None, b.action, b.args)
            else:
                if flow_prefix is None or version is None:
                    raise ValueError(f"button {b.label!r} belongs to no conversation; give it a target action")
                data = encode(flow_prefix, version, b.action, b.args)
            button = {"text": b.label, "data": data}
            if b.short:
                button["short"] = b.short
            out.append(button)
        rows.append(out)
    return rows


def message_payload(reply: Reply, flow_prefix: str | None = None, version: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"text": reply.text, "buttons": button_rows(reply.buttons, flow_prefix, version)}
    if reply.document is not None:
        payload["document"] = asdict(reply.document)
    if reply.chart is not None:
        payload["chart"] = asdict(reply.chart)
    if reply.export is not None:
        payload["export"] = asdict(reply.export)
    if reply.keyboard:
        payload["keyboard"] = [list(row) for row in reply.keyboard]
    return payload


OUTBOX = cast(Table, OutboxMessage.__table__)
IN_CHUNK = 5000  # ids per IN (...) list: SQLite binds at most 32,766 parameters per statement


def add(
    session: AsyncSession,
    now: datetime,
    *,
    channel: str,
    chat_id: str,
    op: str,
    payload: dict[str, Any],
    priority: Priority,
    staff_id: int | None = None,
    source: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """Queue one operation; it is written when the caller's transaction commits. A text longer than the channel
    takes in one message is queued as several rows, in order (`fitted`)."""
    for row_op, row_payload in fitted(channel, op, payload):
        queue_insert(
            session,
            OUTBOX,
            {
                "channel": channel,
                "chat_id": chat_id,
                "staff_id": staff_id,
                "op": row_op,
                "payload": row_payload,
                "priority": int(priority),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "not_before": not_before,
                "source": source,
                "sent_at": None,
                "message_id": None,
                "error": None,
            },
        )


def fitted(channel: str, op: str, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The operations that say `payload` within the channel's limits (bot/core/render.py, TEXT_LIMITS), for every
    flow and sweep alike: a text too long for one message is split at line breaks into messages that follow one
    another, the first of them acknowledging the press, the last carrying the buttons and the file; an edit edits
    with the first part and sends the rest; a caption too long for a file goes before it as text. A button's notice
    is cut short (it is a notice)."""
    limit = TEXT_LIMITS.get(channel)
    if limit is None or op not in ("send", "edit", "answer"):
        return [(op, payload)]
    if op == "answer":
        notice = payload.get("text") or ""
        return [(op, {**payload, "text": split(notice, limit.notice, limit.size)[0]})]
    text = payload.get("text") or ""
    media = next((key for key in ("document", "image", "chart") if payload.get(key)), None)
    if media is not None:
        caption = payload[media].get("caption") or text
        if limit.size(caption) <= limit.caption:
            return [(op, payload)]
        parts = [*split(caption, limit.message, limit.size), ""]  # the file goes last, without a caption
        last = {**payload, media: {**payload[media], "caption": ""}}
    else:
        if limit.size(text) <= limit.message:
            return [(op, payload)]
        parts = split(text, limit.message, limit.size)
        last = payload
    rows: list[tuple[str, dict[str, Any]]] = []
    for index, part in enumerate(parts):
        row = {**last, "text": part} if index == len(parts) - 1 else {"text": part, "buttons": []}
        if index > 0:
            row.pop("answer", None)
            row.pop("message_id", None)
        elif "answer" in payload:
            row["answer"] = payload["answer"]
        if index == 0 and op == "edit":
            row["message_id"] = payload["message_id"]
        rows.append((op if index == 0 else "send", row))
    return rows


async def send_to_staff(
    session: AsyncSession,
    now: datetime,
    staff_id: int,
    reply: Reply,
    priority: Priority,
    source: str | None = None,
    not_before: datetime | None = None,
) -> int:
    """Queue a message to every reachable binding of a person; returns how many rows were written."""
    bindings = (
        await session.scalars(select(Binding).where(Binding.staff_id == staff_id, Binding.unreachable_at.is_(None)))
    ).all()
    payload = message_payload(reply)
    for b in bindings:
        add(
            session,
            now,
            channel=b.channel,
            chat_id=b.chat_id,
            op="send",
            payload=payload,
            priority=priority,
            staff_id=staff_id,
            source=source,
            not_before=not_before,
        )
    return len(bindings)


async def send_to_many(
    session: AsyncSession,
    now: datetime,
    messages: list[tuple[int, Reply]],
    priority: Priority,
    source: str | None = None,
) -> int:
    """Queue many messages (staff id, reply) with one query for all their bindings: sweeps and broadcasts
    reach thousands of people without a query each."""
    if not messages:
        return 0
    staff_ids = sorted({staff_id for staff_id, _ in messages})
    by_staff: dict[int, list[tuple[str, str]]] = {}
    for start in range(0, len(staff_ids), IN_CHUNK):
        rows = (
            await session.execute(
                select(Binding.staff_id, Binding.channel, Binding.chat_id).where(
                    Binding.staff_id.in_(staff_ids[start : start + IN_CHUNK]), Binding.unreachable_at.is_(None)
                )
            )
        ).all()
        for staff_id, channel, chat_id in rows:
            by_staff.setdefault(staff_id, []).append((channel, chat_id))
    written = 0
    payloads: dict[int, dict[str, Any]] = {}  # by the reply's id: a sweep sends one reply to many people
    for staff_id, reply in messages:
        payload = payloads.get(id(reply)) or payloads.setdefault(id(reply), message_payload(reply))
        for channel, chat_id in by_staff.get(staff_id, []):
            add(
                session,
                now,
                channel=channel,
                chat_id=chat_id,
                op="send",
                payload=payload,
                priority=priority,
                staff_id=staff_id,
                source=source,
            )
            written += 1
    return written
