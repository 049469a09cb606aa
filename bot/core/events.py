"""What channels deliver to the engine: neutral inbound events. Flows never see a Telegram or WeCom object;
channels translate their updates into these types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Command:
    name: str  # without the slash, lower case
    args: str = ""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Press:
    """A button pressed, as the channel delivered it (the raw payload)."""

    data: str


@dataclass(frozen=True)
class Pick:
    """A press of one of the current conversation's buttons, decoded and checked as current by the engine."""

    action: str
    args: tuple[str, ...] = ()


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    VIDEO = "video"
    STICKER = "sticker"
    CONTACT = "contact"
    LOCATION = "location"
    FORWARD = "forward"
    LINK = "link"
    OTHER = "other"


@dataclass(frozen=True)
class Attachment:
    kind: AttachmentKind


@dataclass(frozen=True)
class Refused:
    """A text (or a command's arguments) the content guard refused at intake: only its category was kept."""

    category: str


@dataclass(frozen=True)
class Throttled:
    """The first event of a sender over the intake limit (bot/core/intake.py): it and the rest of the excess were
    dropped unread; the engine says so once."""


Event = Command | Text | Press | Attachment | Refused | Throttled
FlowEvent = Text | Pick | Attachment


@dataclass(frozen=True)
class Inbound:
    """One event with who sent it and where, as a channel parsed it."""

    channel: str
    user_id: str
    chat_id: str
    event: Event | None  # None: nothing for the engine (an edit, a service message)
    message_id: str | None = None  # the incoming message, or the message whose button was pressed
    callback_id: str | None = None  # a press to acknowledge
    language: str | None = None  # the client's language, used before a person has chosen one
