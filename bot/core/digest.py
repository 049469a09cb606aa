"""今日待办: the routine reminders that one run of the sweeps queued for the same chat go out as one message. A head
used to get four or five messages on a morning (the renewals, their team's list, education, the inventory, a review
waiting), an officer seven; now each gets one, with every button of the reminders it holds.

Alerts, replies, broadcasts, the weekly digest and anything with a document or a chart are left alone: only
REMINDER rows still pending, written at the run's instant, are combined, in the run's own transaction after every
sweep (when the sweeps run chunk by chunk of people, in each chunk's transaction, for the chunk's people)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.flow import Priority
from bot.core.outbox_rows import IN_CHUNK, OUTBOX
from bot.db.models import Staff
from bot.texts import Texts

MAX_LINES = 40  # about two phone screens: beyond it each reminder is cut to its first paragraph
# Reports that stand on their own, never folded into 今日待办: the officers' weekly digest.
STANDALONE = ("digest:",)


def combinable(payload: dict[str, Any], source: str | None) -> bool:
    return not (payload.get("document") or payload.get("chart")) and not (source or "").startswith(STANDALONE)


async def combine_reminders(
    session: AsyncSession,
    now: datetime,
    texts: Texts,
    *,
    lock: bool,
    people: tuple[int, int] | None = None,
    ids: list[tuple[int, int]] | None = None,
) -> int:
    """Combine each chat's reminders of this instant into one 今日待办; returns how many messages were saved. Core
    statements over plain rows: the busiest tick queues over 100,000 of them. A chunk of the sweeps gives its
    `people` (staff ids first..last) and where this run's rows can be (`ids`, ranges first..last), so that it reads
    its own rows, not every chunk's before it."""
    table = OUTBOX
    query = select(
        table.c.id, table.c.channel, table.c.chat_id, table.c.staff_id, table.c.payload, table.c.source
    ).where(
        table.c.created_at == now,
        table.c.priority == int(Priority.REMINDER),
        table.c.op == "send",
        table.c.status == "pending",
    )
    if people is not None:
        query = query.where(table.c.staff_id.between(*people))
    if lock:
        query = query.with_for_update(skip_locked=True)  # a row the dispatcher holds is sent as it is
    found: list[Any] = []
    for where in [None] if ids is None else [table.c.id.between(*span) for span in ids]:
        found += (await session.execute(query if where is None else query.where(where))).all()
    chats: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in sorted(found, key=lambda row: row.id):
        if combinable(row.payload, row.source):
            chats[(row.channel, row.chat_id)].append(row)
    groups = [group for group in chats.values() if len(group) > 1]
    if not groups:
        return 0
    staff_ids = list({r.staff_id for group in groups for r in group if r.staff_id is not None})
    locales: dict[int, str] = {}
    for start in range(0, len(staff_ids), IN_CHUNK):
        chunk = staff_ids[start : start + IN_CHUNK]
        locales.update((await session.execute(select(Staff.id, Staff.locale).where(Staff.id.in_(chunk)))).all())
    changes, gone = [], []
    made: dict[tuple[str, str], dict[str, Any]] = {}  # most people's reminders are the same as many others'
    for group in groups:
        first = group[0]
        locale = locales.get(first.staff_id, "zh") if first.staff_id is not None else "zh"
        payloads = [r.payload for r in group]
        key = (locale, repr(payloads))
        if key not in made:
            made[key] = combined(texts, locale, payloads)
        changes.append({"row_id": first.id, "combined": made[key]})
        gone += [r.id for r in group[1:]]
    await session.execute(
        update(table).where(table.c.id == bindparam("row_id")).values(payload=bindparam("combined")), changes
    )
    for start in range(0, len(gone), IN_CHUNK):
        await session.execute(delete(table).where(table.c.id.in_(gone[start : start + IN_CHUNK])))
    return len(gone)


def combine_planned(
    texts: Texts, locales: dict[int, str], queued: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """What `combine_reminders` makes of one run's rows (duty, outbox row), for `baomi jobs preview`: each chat's
    reminders as one 今日待办, under the duty of its first."""
    chats: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, (_, row) in enumerate(queued):
        payload = row["payload"]
        if row["priority"] == int(Priority.REMINDER) and row["op"] == "send" and combinable(payload, row["source"]):
            chats[(row["channel"], row["chat_id"])].append(index)
    dropped: set[int] = set()
    out = list(queued)
    for indexes in chats.values():
        if len(indexes) > 1:
            duty, first = queued[indexes[0]]
            locale = locales.get(first["staff_id"], "zh")
            out[indexes[0]] = (
                duty,
                {**first, "payload": combined(texts, locale, [queued[i][1]["payload"] for i in indexes])},
            )
            dropped.update(indexes[1:])
    return [item for index, item in enumerate(out) if index not in dropped]


def combined(texts: Texts, locale: str, payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """One message: a heading with the count, each reminder in turn, and every button once."""
    bodies = [str(p.get("text") or "").strip() for p in payloads]
    text = texts.render("core/today", locale, items=bodies, count=len(bodies))
    if len(text.splitlines()) > MAX_LINES:
        text = texts.render("core/today", locale, items=[b.split("\n\n")[0] for b in bodies], count=len(bodies))
    buttons: list[list[dict[str, str]]] = []
    seen: set[str] = set()
    for payload in payloads:
        for row in payload.get("buttons") or []:
            fresh = [b for b in row if b.get("data") not in seen]
            seen.update(b.get("data", "") for b in fresh)
            if fresh:
                buttons.append(fresh)
    return {"text": text, "buttons": buttons}
