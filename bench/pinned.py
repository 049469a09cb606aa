"""`baomi` with its clock pinned: `python bench/pinned.py 2026-03-01T22:00+08:00 run` runs `baomi run` as if it
were started at that instant (the clock then moves on in real time).

The benchmarks run the bot this way so that their figures do not depend on the hour they are run at: between
09:00 and 18:00 on a working day the scheduled sweeps queue their reminders (about 1,900 renewals for a
3,000-person roster) ahead of what is being measured.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.cli import run_command, setup_logging
from bot.config import Settings


class PinnedClock:
    """Starts at a given instant and runs at the speed of the system's monotonic clock."""

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC)
        self.origin = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin)


def main() -> int:
    start = datetime.fromisoformat(sys.argv[1])
    settings = Settings.from_env()
    setup_logging(settings.log_level)
    return asyncio.run(run_command(settings, sys.argv[2:], PinnedClock(start)))


if __name__ == "__main__":
    sys.exit(main())
