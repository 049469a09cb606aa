"""launch day: the day of the bureau's first roster import, kept in installation_value (bot/services/launch.py)

Revision ID: 0017
Revises: 0001
Create Date: 2026-12-04

Installations that imported their roster before this revision get the day of their earliest staff row, in the
bureau's time zone (BAOMI_TIMEZONE, default Asia/Shanghai), as their launch: the same day the 上岗 / 在岗 choice
ran from until now.
"""

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("launch_day",)
depends_on: str | Sequence[str] | None = ("0020",)

KEY = "roster.first_import"


def upgrade() -> None:
    bind = op.get_bind()
    first = bind.execute(sa.text("SELECT min(created_at) FROM staff")).scalar()
    if first is None:
        return
    if isinstance(first, str):  # SQLite hands back text
        first = datetime.fromisoformat(first)
    zone = ZoneInfo(os.environ.get("BAOMI_TIMEZONE") or "Asia/Shanghai")
    day = first.replace(tzinfo=UTC).astimezone(zone).date().isoformat()
    exists = bind.execute(sa.text("SELECT 1 FROM installation_value WHERE key = :key"), {"key": KEY}).first()
    if exists is None:
        bind.execute(
            sa.text("INSERT INTO installation_value (key, value, updated_at) VALUES (:key, :value, :at)"),
            {"key": KEY, "value": day, "at": datetime.now(UTC).replace(tzinfo=None)},
        )


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM installation_value WHERE key = :key"), {"key": KEY})
