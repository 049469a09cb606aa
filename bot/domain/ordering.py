"""Natural order for names with numbers in them: 第1中学, 第2中学, 第10中学 (not 第10中学 before 第1中学)."""

from __future__ import annotations

import re
import unicodedata

DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Numbers inside a name compare by their value, the rest as text (full-width folded, case ignored)."""
    parts = DIGITS.split(unicodedata.normalize("NFKC", text))
    return tuple((0, int(p)) if p.isdigit() else (1, p.casefold()) for p in parts if p)
