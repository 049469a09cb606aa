"""What a person owes has one source (bot/handlers/compliance/standing.py): the kept standings (staff_standing,
copied by triggers and `settle`) agree with the records they are copied from, the units' figures counted by the
database agree with each person's standing, a record written after a read shows at the next read, and a past
day reads the records themselves. Every view (/team, /dashboard, /export, the digest, the workbook, the console)
reads these through compliance.departments; the console's API and people filter are checked here too."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.config import Policy
from bot.db.models import Binding, Staff
from bot.db.models_standing import StaffStanding, StandingDirty
from bot.db.session import Database
from bot.domain.levels import Level
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance import standing
from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, Duty
from bot.handlers.duties import service as duties
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.rules import PledgeKind
from bot.services.calendar import work_calendar
from tests.conftest import TZ
from tests.test_compliance_export import DAY, NOW, passed_paper, seed, sign

CATALOG = load_catalog().catalog


async def view(
    db: Database, day: date = DAY, *, until: datetime | None = None, people: bool = True, write: bool = True
) -> list[Any]:
    async with db.transaction() as s:
        calendar = await work_calendar(s)
        return await compliance.departments(
            s, day, Policy(), CATALOG, calendar, until=until, people=people, write=write
        )


def by_person(depts: list[DepartmentCompliance]) -> dict[str, tuple[object, ...]]:
    return {
        p.employee_id: (p.department, p.level, p.bound, tuple(p.done(d) for d in DUTIES), p.quiz_score, p.educated_on)
        for d in depts
        for p in d.people
    }


def figures(depts: list[DepartmentCompliance]) -> dict[str, tuple[object, ...]]:
    return {d.name: (d.headcount, tuple((d.tally(t).done, d.tally(t).owed) for t in DUTIES)) for d in depts}


async def test_kept_standings_agree_with_the_records(db: Database) -> None:
    ids = await seed(db)
    async with db.transaction() as s:  # a bound account for one, an unreachable one for another
        for employee_id, gone in (("E001", None), ("E002", NOW)):
            s.add(
                Binding(
                    staff_id=ids[employee_id],
                    channel="telegram",
                    channel_user_id=employee_id,
                    chat_id=employee_id,
                    created_at=NOW,
                    unreachable_at=gone,
                )
            )
    kept = await view(db)
    # The same facts read from every record (the slow way a past day takes): nothing differs.
    from_records = await view(db, until=NOW + timedelta(days=1))
    assert by_person(kept) == by_person(from_records)
    assert by_person(kept)["E001"][2:4] == (True, (True, True, True, True))
    assert by_person(kept)["E002"][2:4] == (False, (False, False, False, False))
    assert by_person(kept)["E004"][3] == (False, False, None, None)  # no level: neither education nor self-check
    # The units' figures counted by the database are each person's standing added up.
    counted = await view(db, people=False)
    assert all(not d.people for d in counted)
    assert figures(counted) == figures(kept)
    assert figures(counted)["办公室"] == (4, ((2, 4), (1, 4), (1, 2), (1, 3)))
    # Another day judges the same facts: in March nobody owes the self-check, and the half-year starts again.
    march = await view(db, date(2027, 3, 1), people=False)
    assert all(d.tally(Duty.SELF_CHECK).owed == 0 and d.tally(Duty.EDUCATION).done == 0 for d in march)


async def test_a_record_written_after_a_read_counts_at_the_next(db: Database) -> None:
    ids = await seed(db)
    before = figures(await view(db, people=False))
    async with db.transaction() as s:
        await sign(s, ids["E002"], PledgeKind.ANNUAL, NOW)  # a flow's write: the trigger marks E002
        s.add(passed_paper(ids["E004"], 90))
        await duties.record_education(s, NOW, ids["E001"], [ids["E002"]], DAY, "talk")
        marked = set((await s.scalars(select(StandingDirty.staff_id))).all())
        assert marked == {ids["E002"], ids["E004"]}
    # A read-only session (an export in its own thread) writes nothing: the marked are read from their records.
    unsettled = await view(db, people=False, write=False)
    assert by_person(await view(db, write=False)) == by_person(await view(db, until=NOW + timedelta(days=1)))
    async with db.transaction() as s:
        assert set((await s.scalars(select(StandingDirty.staff_id))).all()) == marked
    after = figures(await view(db, people=False))
    assert figures(unsettled) == after
    assert after["办公室"][1][0][0] == before["办公室"][1][0][0] + 1  # pledge
    assert after["办公室"][1][1][0] == before["办公室"][1][1][0] + 1  # quiz
    assert after["办公室"][1][2][0] == before["办公室"][1][2][0] + 1  # education
    assert by_person(await view(db)) == by_person(await view(db, until=NOW + timedelta(days=1)))
    # A roster change (another level, a departure from the roster) is a record too.
    async with db.transaction() as s:
        await s.execute(update(Staff).where(Staff.id == ids["E004"]).values(level=Level.CORE.value))
        await s.execute(update(Staff).where(Staff.id == ids["E102"]).values(active=False))
    changed = await view(db, people=False)
    assert figures(changed)["办公室"][1][2][1] == before["办公室"][1][2][1] + 1  # E004 now owes education
    assert figures(changed)["考试院"][0] == before["考试院"][0] - 1
    async with db.transaction() as s:
        kept = (await s.execute(select(func.count()).select_from(StaffStanding))).scalar()
        assert kept == len(ids)  # one row per person, left or not


async def test_a_past_day_reads_the_records_made_before_it(db: Database) -> None:
    await seed(db)
    await view(db)  # today's standings kept
    # The evening before: the papers, the education and the self-checks of 12 October were not there yet.
    evening = datetime.combine(DAY, time(), TZ)
    past = await view(db, DAY - timedelta(days=1), until=evening)
    assert all(d.tally(Duty.QUIZ).done == 0 and d.tally(Duty.SELF_CHECK).done == 0 for d in past)
    counted = await view(db, DAY - timedelta(days=1), until=evening, people=False)
    assert figures(counted) == figures(past)
    # Today's kept figures are untouched by the past day's view.
    assert figures(await view(db, people=False)) == figures(await view(db))


async def test_settle_copies_only_those_marked(db: Database) -> None:
    await seed(db)
    async with db.transaction() as s:
        assert await standing.settle(s) > 0
        assert await standing.settle(s) == 0  # nothing marked since
