"""Shared shaping of what the bot says: long lists split into messages a phone can scroll, and every outgoing text
kept within its channel's limit (the one place that cuts text: `split`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

MAX_MESSAGE = 3500  # characters per message: under Telegram's 4,096, and easy to scroll on a phone

Size = Callable[[str], int]


def utf16_units(text: str) -> int:
    """How Telegram counts a message's length: UTF-16 code units (an emoji beyond the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class TextLimit:
    """The longest text a channel takes in one message, and in a file's or picture's caption, as it measures."""

    message: int
    caption: int
    size: Size = len
    notice: int = 200  # the short notice on a pressed button


# By channel name (the names stored in bindings and outbox rows). Telegram: 4,096 characters a message, 1,024 a
# caption, 200 a button's notice. WeCom: 2,048 bytes a text (it cuts off the rest); a caption is said as a text.
TEXT_LIMITS: dict[str, TextLimit] = {
    "telegram": TextLimit(4096, 1024, utf16_units),
    "wecom": TextLimit(2048, 2048, utf8_bytes, notice=2048),
    "local": TextLimit(4096, 1024, utf16_units),  # the tests' channel stands for Telegram
}


def split(text: str, limit: int, size: Size = len) -> list[str]:
    """`text` in parts of at most `limit` (as `size` measures), cut at the last line break that fits, or between
    characters when a single line is longer; the line breaks at a cut are dropped."""
    parts: list[str] = []
    while size(text) > limit:
        fits = _longest_prefix(text, limit, size)
        cut = text.rfind("\n", 0, fits + 1)
        cut = cut if cut > 0 else fits
        parts.append(text[:cut].rstrip("\n"))
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


def _longest_prefix(text: str, limit: int, size: Size) -> int:
    """How many characters of `text` fit in `limit` (at least one: no character is longer than a limit)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if size(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def chunks(parts: Sequence[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Joins texts, a blank line apart, into as few messages as fit under `limit` characters each; a text
    longer than that (a very long list of names) is cut between lines, or within a line if it must."""
    pieces = [piece for part in parts for piece in split(part, limit)]
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + 2 + len(piece) <= limit:
            out[-1] += "\n\n" + piece
        else:
            out.append(piece)
    return out or [""]
