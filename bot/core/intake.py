"""What every channel does to what it receives before the inbox stores it."""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab, line feed and carriage return; DEL and the C1 controls; lone surrogates (which no encoding
# can write). PostgreSQL refuses NUL in text and in JSON: left in, one such message would be refused for ever.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


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
