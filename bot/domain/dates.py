"""Reading dates as people type them on a phone."""

from __future__ import annotations

import re
from datetime import date

_ISO = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})日?$")


def parse_day(text: str, today: date) -> date | None:
    """2026-03-02, 2026/3/2, 2026年3月2日, or 3月2日 / 3-2 (this year; last year if that is in the future)."""
    text = text.strip().replace(" ", "")
    try:
        if match := _ISO.match(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _MONTH_DAY.match(text):
            day = date(today.year, int(match[1]), int(match[2]))
            return day if day <= today else date(today.year - 1, day.month, day.day)
    except ValueError:
        return None
    return None
