"""An in-process channel, like Errbot's test backend: a driver (the flow and sweep tests) writes what a person
does straight into the inbox, and what the bot performs is kept in memory, chat by chat, as a messaging service
would show it. Everything between — inbox, engine, flows, outbox, dispatcher — is the real bot; only the
transport is left out, so a conversation costs a few database transactions and no HTTP.

The Telegram and WeCom channels are tested on their own, end to end, against their fakes (bot/testing/).
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.core.channel import Channel, ChannelEnv, Limits, Operation, Outcome, Result, StartContext
from bot.core.events import Attachment, AttachmentKind, Command, Inbound, Press, Text
from bot.core.intake import Intake
from bot.core.supervise import Loop

CHANNEL = "local"
# No service to protect: everything due goes out at once, as fast as the dispatcher can claim it.
LIMITS = Limits(
    per_second=float("inf"), chat_interval=0.0, concurrency=64, uncounted=frozenset({"answer", "delete", "menu"})
)


@dataclass
class Message:
    """One message in a chat, as the person would see it now (edits applied)."""

    message_id: int
    from_bot: bool
    text: str = ""
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)  # rows of (label, payload)
    file: tuple[str, bytes] | None = None  # (file name, content) of a document or an image
    edited: bool = False

    def __getitem__(self, key: str) -> Any:  # msg["text"], as the tests of the other channels read messages
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


@dataclass
class Chat:
    messages: list[Message] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # press id -> the notice shown on the button ("" none)
    menu: list[str] | None = None  # the commands of this chat's own menu
    next_id: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def find(self, message_id: int) -> Message | None:
        return next((m for m in self.messages if m.message_id == message_id), None)


def configure(settings: Settings, env: ChannelEnv) -> LocalChannel:
    return LocalChannel(env.intake)


class LocalChannel(Channel):
    name = CHANNEL
    limits = LIMITS
    polls = True  # nothing to serve

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.chats: dict[str, Chat] = {}
        self.delivered: dict[int, str] = {}  # outbox id -> message id: what a crash probe would find
        self.blocked: set[str] = set()  # people who blocked the bot: what is sent to them is refused
        self._updates = itertools.count(1)
        self._presses = itertools.count(1)

    def chat(self, chat_id: str) -> Chat:
        return self.chats.setdefault(chat_id, Chat())

    # --- what a person does -----------------------------------------------------------------------------------
    async def type(self, user: str, text: str, language: str = "zh-hans") -> Message:
        """The person writes `text` (a command when it starts with /)."""
        message = self._incoming(user, text=text)
        await self._store(user, {"kind": "text", "text": text, "message_id": message.message_id, "lang": language})
        return message

    async def attach(self, user: str, kind: AttachmentKind) -> Message:
        """The person sends a picture, a file, a forwarded message…"""
        message = self._incoming(user)
        await self._store(user, {"kind": "attachment", "attachment": kind.value, "message_id": message.message_id})
        return message

    async def press(self, user: str, message_id: int, data: str) -> str:
        """The person presses a button of message `message_id`; returns the press id (to read its answer)."""
        press_id = f"p{next(self._presses)}"
        await self._store(user, {"kind": "press", "data": data, "message_id": message_id, "press": press_id})
        return press_id

    def _incoming(self, user: str, text: str = "") -> Message:
        chat = self.chat(user)
        message = Message(next(chat.next_id), from_bot=False, text=text)
        chat.messages.append(message)
        return message

    async def _store(self, user: str, event: dict[str, Any]) -> None:
        """Parsed at once, as every channel does, and handed to the intake."""
        await self.intake.store(CHANNEL, [(str(next(self._updates)), self.parse({"user": user, **event}))])

    # --- the channel ------------------------------------------------------------------------------------------
    def parse(self, payload: dict[str, Any]) -> Inbound:
        user = payload["user"]
        message_id = str(payload["message_id"])
        kind = payload["kind"]
        if kind == "press":
            return Inbound(CHANNEL, user, user, Press(payload["data"]), message_id, callback_id=payload["press"])
        if kind == "attachment":
            return Inbound(CHANNEL, user, user, Attachment(AttachmentKind(payload["attachment"])), message_id)
        text: str = payload["text"]
        if text.startswith("/") and len(text) > 1:
            name, _, args = text[1:].partition(" ")
            event: Command | Text = Command(name.lower(), args.strip())
        else:
            event = Text(text)
        return Inbound(CHANNEL, user, user, event, message_id, language=payload.get("lang"))

    def block(self, user: str, blocked: bool = True) -> None:
        """The person blocks the bot (or unblocks it): sends to them are refused as unreachable."""
        (self.blocked.add if blocked else self.blocked.discard)(user)

    async def perform(self, op: Operation) -> Result:
        if op.chat_id in self.blocked and op.op not in ("answer", "delete"):
            return Result(Outcome.UNREACHABLE, error="blocked by the user")
        chat = self.chat(op.chat_id)
        p = op.payload
        if op.op == "send":
            message = Message(next(chat.next_id), True, p.get("text") or "", _buttons(p), _file(p))
            chat.messages.append(message)
            self.delivered[op.id] = str(message.message_id)
            return Result(Outcome.SENT, str(message.message_id))
        if op.op == "edit":
            found = chat.find(int(p["message_id"]))
            if found is None or not found.from_bot:
                return await self.perform(Operation(op.id, op.chat_id, "send", p, op.priority, channel=CHANNEL))
            found.text, found.buttons, found.edited = p.get("text") or "", _buttons(p), True
            return Result(Outcome.SENT, str(found.message_id))
        if op.op == "answer":
            chat.answers[p["callback_id"]] = p.get("text") or ""
            return Result(Outcome.SENT)
        if op.op == "delete":
            chat.messages = [m for m in chat.messages if m.message_id != int(p["message_id"])]
            return Result(Outcome.SENT)
        if op.op == "menu":
            chat.menu = [c["command"] for c in p["commands"]]
            return Result(Outcome.SENT)
        return Result(Outcome.FAILED, error=f"unknown operation {op.op}")

    async def find_delivered(self, op: Operation) -> str | None:
        return self.delivered.get(op.id)

    async def start(self, ctx: StartContext) -> list[Loop]:
        return []

    async def stop(self) -> None:
        return None


def _buttons(payload: dict[str, Any]) -> list[list[tuple[str, str]]]:
    return [[(b["text"], b["data"]) for b in row] for row in payload.get("buttons") or []]


def _file(payload: dict[str, Any]) -> tuple[str, bytes] | None:
    item = payload.get("document") or payload.get("image")
    if not item:
        return None
    return item["filename"], base64.b64decode(item["content_b64"])
