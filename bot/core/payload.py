"""Button payloads: typed, prefixed, at most 64 bytes, encoded and decoded only here.

`prefix:version:action:arg…` — the version is the conversation's when the button was drawn ('-' for
standalone actions), so a stale or doubled press is recognised and applied at most once.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64
SEP = ":"


class PayloadError(ValueError):
    pass


@dataclass(frozen=True)
class Payload:
    prefix: str
    version: int | None
    action: str
    args: tuple[str, ...]


def encode(prefix: str, version: int | None, action: str, args: tuple[str, ...] = ()) -> str:
    parts = [prefix, "-" if version is None else str(version), action, *args]
    if any(SEP in p or not p for p in parts):
        raise PayloadError(f"payload parts must be non-empty and free of {SEP!r}: {parts}")
    data = SEP.join(parts)
    if len(data.encode()) > MAX_BYTES:
        raise PayloadError(f"payload over {MAX_BYTES} bytes: {data}")
    return data


def decode(data: str) -> Payload:
    parts = data.split(SEP)
    if len(parts) < 3 or len(data.encode()) > MAX_BYTES:
        raise PayloadError(f"malformed payload: {data[:64]!r}")
    prefix, version, action, *args = parts
    if version == "-":
        return Payload(prefix, None, action, tuple(args))
    if not version.isdigit():
        raise PayloadError(f"malformed payload version: {data[:64]!r}")
    return Payload(prefix, int(version), action, tuple(args))
