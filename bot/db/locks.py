"""PostgreSQL advisory lock keys, in one place so that no two uses share one ("baomi" in ASCII, then a number)."""

from __future__ import annotations

MIGRATIONS = 0x62616F6D6901  # held while the schema is brought up to date (a transaction's lock)
LEADER = 0x62616F6D6902  # held by the leader for as long as its connection lives (a session's lock)
