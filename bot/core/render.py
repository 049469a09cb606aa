"""Shared shaping of what flows say: long lists split into messages a phone can scroll."""

from __future__ import annotations

from collections.abc import Sequence

MAX_MESSAGE = 3500  # characters per message: under Telegram's 4,096, and easy to scroll on a phone


def chunks(parts: Sequence[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Joins texts, a blank line apart, into as few messages as fit under `limit` characters each; a text
    longer than that (a very long list of names) is cut between lines, or within a line if it must."""
    pieces: list[str] = []
    for part in parts:
        while len(part) > limit:
            cut = part.rfind("\n", 0, limit)
            cut = cut if cut > 0 else limit
            pieces.append(part[:cut])
            part = part[cut:].lstrip("\n")
        pieces.append(part)
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + 2 + len(piece) <= limit:
            out[-1] += "\n\n" + piece
        else:
            out.append(piece)
    return out or [""]
