"""Typed answers: wherever buttons are offered, a person may type the option's number, its letter (the quiz's
A–D) or its label instead of pressing. WeCom's WeChat plugin (微工作台) and clients older than 3.1.6 show no
button cards at all, so for those people typing is the only way to answer; on Telegram it is a convenience.

`choose` is the rule, a pure function. The buttons a conversation offered last are remembered with it
(`Conversation.offered`, written by the engine with the step that drew them); outside a conversation, the
buttons of the latest message with buttons are the ones on screen (a reminder's 签署承诺书, a notice's 已阅); a label
may also be that of a button a few messages up.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.flow import Reply
from bot.core.outbox_rows import button_rows
from bot.db.conversations import Conversation
from bot.db.models import OutboxMessage

# What a button is remembered as: the payload's own shape, {"text": label, "data": payload, "short"?: letter}.
Offered = Mapping[str, str]

# Marks, arrows, brackets and punctuation around a label or a typed choice ("✓ A. …", "下一页 ▶", "[2]", "A.").
EDGES = re.compile(r"^[\W_]+|[\W_]+$")
LETTER_PREFIX = re.compile(r"^(\w)\s*[.、:]\s*")
RECENT_ROWS = 5  # outside a conversation, the latest message with buttons among the last few sent


def choose(text: str, offered: Sequence[Offered]) -> int | None:
    """The index of the button that `text` picks, or None. A label wins over a letter, a letter over a number:
    buttons labelled "1"–"5" are picked by their labels, and "A" is the option lettered A wherever it stands."""
    typed = _normal(text)
    if not typed or not offered:
        return None
    for names in (_labels, _letters):
        found = [i for i, button in enumerate(offered) if typed in names(button)]
        if len(found) == 1:
            return found[0]
        if found:
            return None  # ambiguous: better asked again than guessed
    if typed.isdigit() and 1 <= int(typed) <= len(offered):
        return int(typed) - 1
    return None


def offered_buttons(replies: Sequence[Reply], prefix: str | None, version: int | None) -> list[dict[str, str]] | None:
    """The buttons of the last reply that has any (what is on screen once the step is said), flattened in the
    order they are numbered; None when the step offers none."""
    for reply in reversed(replies):
        if reply.buttons:
            return [button for row in button_rows(reply.buttons, prefix, version) for button in row]
    return None


async def typed_choice(
    session: AsyncSession, channel: str, chat_id: str, conversation: Conversation | None, text: str
) -> str | None:
    """The payload of the button `text` picks: among the buttons the conversation offered last when the person
    is in one (a conversation waiting for free text offers none), else among those of the latest messages with
    buttons sent to this chat (a number: the latest one's only)."""
    if conversation is not None:
        offered: Sequence[Offered] = conversation.offered or []
        index = choose(text, offered)
        return None if index is None else offered[index]["data"]
    for number, buttons in enumerate(await _recent_button_sets(session, channel, chat_id)):
        # A number is an option of the latest message with buttons; a label may be on one a little older (a
        # notice's 已阅 under the reply to something the bot did not understand).
        index = choose(text, buttons)
        if index is not None and (number == 0 or not _normal(text).isdigit()):
            return buttons[index]["data"]
    return None


async def _recent_button_sets(session: AsyncSession, channel: str, chat_id: str) -> list[list[dict[str, str]]]:
    payloads = (
        await session.scalars(
            select(OutboxMessage.payload)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.op.in_(("send", "edit")),
                OutboxMessage.status == "sent",
            )
            .order_by(OutboxMessage.id.desc())
            .limit(RECENT_ROWS)
        )
    ).all()
    return [buttons for payload in payloads if (buttons := _flat(payload.get("buttons")))]


async def recent_buttons(session: AsyncSession, channel: str, chat_id: str, since: datetime) -> list[dict[str, str]]:
    """The buttons of the last few messages sent to this chat since `since`, the newest message's first."""
    payloads = (
        await session.scalars(
            select(OutboxMessage.payload)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.op.in_(("send", "edit")),
                OutboxMessage.status == "sent",
                OutboxMessage.sent_at >= since,
            )
            .order_by(OutboxMessage.id.desc())
            .limit(RECENT_ROWS)
        )
    ).all()
    return [button for payload in payloads for button in _flat(payload.get("buttons"))]


def _flat(rows: Any) -> list[dict[str, str]]:
    return [button for row in rows or [] for button in row if isinstance(button, dict) and button.get("data")]


def _normal(text: str) -> str:
    """Full-width forms folded (Ａ１ → A1), case ignored, marks and punctuation at either end dropped."""
    typed = EDGES.sub("", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(typed.split())


def _labels(button: Offered) -> set[str]:
    label = _normal(button.get("text", ""))
    names = {label}
    if short := _normal(button.get("short", "")):
        # "A. 机密" is also typed as "机密".
        names.add(LETTER_PREFIX.sub("", label, count=1) if label.startswith(short) else label)
    return {name for name in names if name}


def _letters(button: Offered) -> set[str]:
    short = _normal(button.get("short", ""))
    return {short} if short else set()
