"""脱密期 end dates by 民法典 第二百零一条、第二百零二条: each recorded period ends on the corresponding day

Revision ID: 0010
Revises: 0001
Create Date: 2026-12-03

Periods were ended the day before the corresponding day (approved 2026-04-08, 6 months ended 2026-10-07). The
approval day is not counted and a period of months ends on the corresponding day of its last month, or that
month's last day when it has none (bot.domain.dates.add_months), so each recorded end moves to that day. Every
corrected record is written to the audit chain (`period.correct`), one entry per departure, with both dates.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bot.domain.dates import add_months
from bot.services.audit import GENESIS, chain_hash

revision: str = "0010"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("periods",)
depends_on: str | Sequence[str] | None = ("0002",)

ACTION = "period.correct"
departure = sa.table(
    "departure",
    sa.column("id", sa.Integer),
    sa.column("approved_on", sa.Date),
    sa.column("months", sa.Integer),
    sa.column("ends_on", sa.Date),
)
audit = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime),
    sa.column("actor_staff_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("subject", sa.String),
    sa.column("detail", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


def old_end(approved_on: date, months: int) -> date:
    """The rule before this revision: the day before the corresponding day, a month's last day when it has none."""
    corresponding = add_months(approved_on, months)
    return corresponding if corresponding.day < approved_on.day else corresponding - timedelta(days=1)


def correct(to_old: bool) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(departure.c.id, departure.c.approved_on, departure.c.months, departure.c.ends_on)
        .where(departure.c.months > 0, departure.c.ends_on.is_not(None))
        .order_by(departure.c.id)
    ).all()
    # The audit chain's time is UTC without a zone, as the model's UTCDateTime stores it.
    now = datetime.now(UTC).replace(microsecond=0)
    prev = bind.execute(sa.select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)).scalar() or GENESIS
    for row in rows:
        approved_on = row.approved_on if isinstance(row.approved_on, date) else date.fromisoformat(row.approved_on)
        before = row.ends_on if isinstance(row.ends_on, date) else date.fromisoformat(row.ends_on)
        after = old_end(approved_on, row.months) if to_old else add_months(approved_on, row.months)
        if after == before:
            continue
        bind.execute(sa.update(departure).where(departure.c.id == row.id).values(ends_on=after))
        detail = {
            "rule": "民法典第二百零一条、第二百零二条" if not to_old else "reverted",
            "ends_on_before": before.isoformat(),
            "ends_on_after": after.isoformat(),
        }
        subject = f"departure:{row.id}"
        digest = chain_hash(prev, now, None, ACTION, subject, detail)
        bind.execute(
            sa.insert(audit).values(
                at=now.replace(tzinfo=None),
                actor_staff_id=None,
                action=ACTION,
                subject=subject,
                detail=detail,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest


def upgrade() -> None:
    correct(to_old=False)


def downgrade() -> None:
    correct(to_old=True)
