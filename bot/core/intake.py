"""What the inbox keeps of what arrives: the neutral event a channel parsed, and nothing else.

A channel parses each update as it arrives (`Channel.parse`) and hands the events here. Only what the engine reads is
written: who and where, the message and press ids, and the event itself — a command, a text, a button's payload, the
kind of an attachment. Never the raw update: no caption, no file id, no forwarded or edited text, nothing of a group.
An update that is nothing for the engine (an edit, a channel post, a group chat, a membership change) is dropped
before anything is written.

A sender gets at most `limit` events written in any WINDOW (`BAOMI_INTAKE_LIMIT`, default 20 in 20 seconds): the
excess is dropped before anything is written — not queued, not read — and the first event over the limit is written
as `Throttled` alone, which the engine answers with one notice. A flood of a thousand messages then costs a thousand
parses and nothing else.

NUL and other control characters are removed from whatever is written (PostgreSQL refuses NUL in text and JSON:
one such message would otherwise be refused for ever). A text the content guard refuses is not written either: the
row keeps its category alone (`Refused`), and the engine answers it as refused. "已拒收，未保存" is then true from
the first byte. A text that passes is kept only until the engine has processed it (bot/engine.py empties the row
then), and the retention sweep (bot/jobs/retention.py) deletes the emptied rows later.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.core.events import Attachment, AttachmentKind, Command, Inbound, Press, Refused, Text, Throttled
from bot.db.models import InboxEvent
from bot.db.session import Database
from bot.db.upsert import insert_ignore_returning
from bot.domain.guard import check_text

log = logging.getLogger("baomi.guard")  # the guard's line, as where a flow refuses: the category alone

# C0 controls but tab, line feed and carriage return; DEL and the C1 controls; lone surrogates (which no encoding
# can write). PostgreSQL refuses NUL in text and in JSON: left in, one such message would be refused for ever.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

LIMIT = 20  # events of one sender written in any WINDOW
WINDOW = timedelta(seconds=20)
KEEP = 10_000  # senders remembered before the quiet ones are forgotten

VERSION = 1  # the "v" of a stored payload: rows written before intake kept only events have none
SCRUBBED: dict[str, Any] = {}  # a processed row's payload


def stored(inbound: Inbound, extra_terms: Sequence[str] = ()) -> dict[str, Any] | None:
    """The inbox payload of an event (None: nothing for the engine, nothing is written). A text or a command's
    arguments the guard refuses are kept as their category alone."""
    event = inbound.event
    if event is None:
        return None
    payload: dict[str, Any] = {"v": VERSION, "chat": inbound.chat_id}
    for key, value in (
        ("message_id", inbound.message_id),
        ("callback_id", inbound.callback_id),
        ("language", inbound.language),
    ):
        if value:
            payload[key] = value
    payload.update(_event(event, extra_terms))
    return strip_controls(payload)


def _event(
    event: Command | Text | Press | Attachment | Refused | Throttled, extra_terms: Sequence[str]
) -> dict[str, Any]:
    if isinstance(event, Text | Command):
        typed = event.text if isinstance(event, Text) else event.args
        verdict = check_text(typed, extra_terms=extra_terms)
        if verdict.category is not None:
            log.info("refused a text: %s", verdict.category.value)
            return {"refused": verdict.category.value}
        if isinstance(event, Command):
            return {"command": event.name, "args": event.args}
        return {"text": event.text}
    if isinstance(event, Press):
        return {"press": event.data}
    if isinstance(event, Attachment):
        return {"attachment": event.kind.value}
    if isinstance(event, Throttled):
        return {"throttled": True}
    return {"refused": event.category}


def strip_controls(value: Any) -> Any:
    """`value` (a received payload: dicts, lists, strings, numbers) with control characters removed from every
    string in it, keys included."""
    if isinstance(value, str):
        return CONTROLS.sub("", value)
    if isinstance(value, dict):
        return {strip_controls(key): strip_controls(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strip_controls(item) for item in value]
    return value


def loaded(channel: str, user_id: str, payload: dict[str, Any]) -> Inbound:
    """The event of a stored payload (an emptied one, or one of an unknown kind: nothing for the engine)."""
    event: Command | Text | Press | Attachment | Refused | Throttled | None
    if "text" in payload:
        event = Text(payload["text"])
    elif "command" in payload:
        event = Command(payload["command"], payload.get("args", ""))
    elif "press" in payload:
        event = Press(payload["press"])
    elif "attachment" in payload:
        event = Attachment(AttachmentKind(payload["attachment"]))
    elif "refused" in payload:
        event = Refused(payload["refused"])
    elif "throttled" in payload:
        event = Throttled()
    else:
        event = None
    return Inbound(
        channel,
        user_id,
        payload.get("chat", user_id),
        event,
        message_id=payload.get("message_id"),
        callback_id=payload.get("callback_id"),
        language=payload.get("language"),
    )


def is_stored(payload: dict[str, Any]) -> bool:
    """Whether the payload was written by `Intake` (else by a channel before it: its own raw form)."""
    return payload.get("v") == VERSION or payload == SCRUBBED


# Work done in the transaction that stores the events, told how many of them were new (WeCom applies directory
# changes exactly once so).
AlsoStored = Callable[[AsyncSession, int], Awaitable[None]]


@dataclass
class Intake:
    """Writes what channels parsed to the inbox and wakes the engine."""

    db: Database
    clock: Clock
    on_inbox: Callable[[], None]
    extra_terms: Sequence[str] = ()  # the policy's guard_extra_terms
    limit: int | None = None  # events of one sender in any WINDOW: None LIMIT, 0 no limit
    # Per sender (channel, user id): when their recent events were written, and whether they were told of the limit.
    _recent: dict[tuple[str, str], deque[datetime]] = field(default_factory=dict)
    _told: set[tuple[str, str]] = field(default_factory=set)

    async def store(
        self,
        channel: str,
        events: Sequence[tuple[str, Inbound]],
        *,
        keep_empty: bool = False,
        also: AlsoStored | None = None,
    ) -> int:
        """Commit (dedupe key, event) pairs; returns how many were new. An event that is nothing for the engine is
        not written, unless `keep_empty` (WeCom's directory events: an empty row still marks the callback as seen,
        so that its retries are dropped)."""
        now = self.clock.now()
        rows: list[dict[str, Any]] = []
        for key, inbound in events:
            admitted = self._admit(channel, inbound, now)
            if admitted is None:
                continue  # over the limit, and told already: dropped unread
            payload = stored(admitted, self.extra_terms)
            if payload is None and not keep_empty:
                continue
            rows.append(
                {
                    "channel": channel,
                    "dedupe_key": key,
                    "channel_user_id": inbound.user_id if payload is not None else "",
                    "payload": payload if payload is not None else dict(SCRUBBED),
                    "received_at": now,
                    "status": "pending" if payload is not None else "done",
                    "processed_at": None if payload is not None else now,
                    "attempts": 0,
                }
            )
        if not rows and also is None:
            return 0
        async with self.db.transaction(inline=True) as session:
            # The rows as parameters of one cached statement, not a VALUES list compiled again for every count of rows.
            inserted = len(await insert_ignore_returning(session, InboxEvent, rows, ["channel", "dedupe_key"], "id"))
            if also is not None:
                await also(session, inserted)
        if any(row["status"] == "pending" for row in rows):
            self.on_inbox()
        return inserted

    def _admit(self, channel: str, inbound: Inbound, now: datetime) -> Inbound | None:
        """The event as it is to be written: itself within the limit, `Throttled` for the first one over it (the
        notice), None for the rest of the excess."""
        limit = LIMIT if self.limit is None else self.limit
        if inbound.event is None or not inbound.user_id or not limit:
            return inbound
        key = (channel, inbound.user_id)
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        if len(recent) < limit:
            recent.append(now)
            self._told.discard(key)
            return inbound
        if len(self._recent) > KEEP:
            self._forget(now)
        if key in self._told:
            return None
        self._told.add(key)
        logging.getLogger("baomi.intake").info("%s sender over the intake limit: the excess is dropped", channel)
        return replace(inbound, event=Throttled())

    def _forget(self, now: datetime) -> None:
        """Drop the records of everyone quiet for a whole window."""
        for key in [k for k, recent in self._recent.items() if not recent or recent[-1] <= now - WINDOW]:
            del self._recent[key]
            self._told.discard(key)
