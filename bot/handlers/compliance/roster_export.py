"""The yearly roster (花名册) of core and important classified staff, which the office compiles and keeps
(第十条): who they are, when they signed the onboarding pledge, when they last had secrecy education."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff
from bot.db.models_duties import EducationRecord
from bot.db.models_pledge import PledgeRecord
from bot.domain.levels import Level
from bot.handlers.compliance.export import Cell, PageText, fill_sheet, save
from bot.handlers.duties.service import EDUCATED_LEVELS
from bot.handlers.pledges.rules import Outcome, PledgeKind
from bot.texts import Texts

LISTED = (Staff.active.is_(True), Staff.level.in_(EDUCATED_LEVELS))  # on the roster: active core and important staff


@dataclass(frozen=True)
class RosterRow:
    employee_id: str
    name: str
    department: str
    level: Level
    onboarding_signed_on: date | None  # the latest signed onboarding (上岗) pledge up to the end of the year
    educated_on: date | None  # the last secrecy education held in the year


async def roster_rows(session: AsyncSession, year: int, timezone: ZoneInfo) -> list[RosterRow]:
    """Active core and important staff by department, core first, then by employee id."""
    staff = (
        await session.execute(
            select(Staff.id, Staff.employee_id, Staff.name, Department.name, Staff.level)
            .join(Department, Department.id == Staff.department_id)
            .where(*LISTED)
        )
    ).all()
    signed = await _onboarding_signed(session, year, timezone)
    educated = await _last_educated(session, year)
    rows = [
        RosterRow(employee_id, name, department, Level(level), signed.get(staff_id), educated.get(staff_id))
        for staff_id, employee_id, name, department, level in staff
    ]
    return sorted(rows, key=lambda r: (r.department, r.level is not Level.CORE, r.employee_id))


def _listed() -> Select[int]:
    return select(Staff.id).where(*LISTED)


async def _onboarding_signed(session: AsyncSession, year: int, timezone: ZoneInfo) -> dict[int, date]:
    end = datetime.combine(date(year + 1, 1, 1), time(), timezone)
    found = (
        await session.execute(
            select(PledgeRecord.staff_id, func.max(PledgeRecord.at))
            .where(
                PledgeRecord.staff_id.in_(_listed()),
                PledgeRecord.kind == PledgeKind.ONBOARDING.value,
                PledgeRecord.outcome == Outcome.SIGNED.value,
                PledgeRecord.at < end,
            )
            .group_by(PledgeRecord.staff_id)
        )
    ).all()
    return {staff_id: at.astimezone(timezone).date() for staff_id, at in found}


async def _last_educated(session: AsyncSession, year: int) -> dict[int, date]:
    found = (
        await session.execute(
            select(EducationRecord.staff_id, func.max(EducationRecord.held_on))
            .where(
                EducationRecord.staff_id.in_(_listed()),
                EducationRecord.held_on >= date(year, 1, 1),
                EducationRecord.held_on <= date(year, 12, 31),
            )
            .group_by(EducationRecord.staff_id)
        )
    ).all()
    return {staff_id: held_on for staff_id, held_on in found}


def roster_workbook(
    rows: list[RosterRow], year: int, bureau: str, exported_at: datetime, texts: Texts, locale: str = "zh"
) -> bytes:
    """One print-ready sheet, formatted like the compliance workbook."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    page = PageText(texts, locale, bureau, "roster", exported_at, year=year)
    fill_sheet(sheet, texts, locale, "roster", [roster_cells(texts, locale, r) for r in rows], page)
    return save(book)


def roster_cells(texts: Texts, locale: str, row: RosterRow) -> list[Cell]:
    level = texts.render("exports/level", locale, level=row.level.value)
    return [row.employee_id, row.name, row.department, level, row.onboarding_signed_on, row.educated_on]
