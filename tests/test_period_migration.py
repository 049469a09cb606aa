"""Migration 0010 moves every recorded 脱密期 end to the corresponding day (民法典 第二百零一条、第二百零二条) and
writes each correction to the audit chain; its downgrade puts the old dates back."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.db.migrate import downgrade, upgrade
from bot.db.models import AuditLog
from bot.db.models_pledge import Departure
from bot.db.session import Database
from bot.services import audit
from tests.conftest import BACKENDS, PG_URL, reset_postgres, sqlite_url

# (approved, months, end under the old rule, end by 民法典 第二百零二条)
RECORDS = [
    (date(2026, 4, 8), 6, date(2026, 10, 7), date(2026, 10, 8)),
    (date(2025, 1, 10), 24, date(2027, 1, 9), date(2027, 1, 10)),
    (date(2026, 8, 31), 6, date(2027, 2, 28), date(2027, 2, 28)),  # already the month's last day: unchanged
    (date(2024, 2, 29), 12, date(2025, 2, 28), date(2025, 2, 28)),
]


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "m.db")
    request.getfixturevalue("postgres_ready")
    asyncio.run(reset_postgres(PG_URL))
    return PG_URL


async def seed_old_records(db: Database) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC).replace(tzinfo=None)
    async with db.sessions() as session, session.begin():
        await session.execute(
            text("INSERT INTO department (id, name, created_at) VALUES (1, '办公室', :now)"), {"now": now}
        )
        await session.execute(
            text(
                "INSERT INTO staff (id, employee_id, name, department_id, level, is_head, is_officer, is_leader,"
                " active, locale, created_at, updated_at)"
                " VALUES (1, 'E900', '甲', 1, 'general', false, false, false, false, 'zh', :now, :now)"
            ),
            {"now": now},
        )
        for number, (approved, months, old, _) in enumerate(RECORDS, start=1):
            await session.execute(
                text(
                    "INSERT INTO departure (id, staff_id, approved_on, level, months, ends_on, created_at)"
                    " VALUES (:id, 1, :approved, 'general', :months, :ends, :now)"
                ),
                {"id": number, "approved": approved, "months": months, "ends": old, "now": now},
            )
        # A link of the chain already there: the corrections must continue it.
        await audit.record(session, datetime(2026, 12, 1, tzinfo=UTC), None, "roster.import", "roster", added=1)


async def ends(db: Database) -> list[date | None]:
    async with db.sessions() as session:
        return list((await session.scalars(select(Departure.ends_on).order_by(Departure.id))).all())


async def test_existing_periods_are_corrected_and_audit_logged(fresh_url: str) -> None:
    await upgrade(fresh_url)
    await downgrade(fresh_url, "periods@-1")
    db = Database(fresh_url)
    try:
        await seed_old_records(db)
        await upgrade(fresh_url)
        assert await ends(db) == [new for *_, new in RECORDS]
        async with db.sessions() as session:
            rows = (await session.scalars(select(AuditLog).where(AuditLog.action == "period.correct"))).all()
            assert [(r.subject, r.detail["ends_on_before"], r.detail["ends_on_after"]) for r in rows] == [
                ("departure:1", "2026-10-07", "2026-10-08"),
                ("departure:2", "2027-01-09", "2027-01-10"),
            ]
            assert all(r.detail["rule"] == "民法典第二百零一条、第二百零二条" for r in rows)
            report = await audit.verify(session)
            assert (report.checked, report.broken_at) == (3, None)
        await downgrade(fresh_url, "periods@-1")
        assert await ends(db) == [old for _, _, old, _ in RECORDS]
    finally:
        await db.dispose()
