"""The compliance workbook and the roster (花名册): sheets, headings, values and print setup, from a small
organisation seeded through the services, on SQLite and PostgreSQL; and `baomi export compliance|roster`."""

from __future__ import annotations

import asyncio
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from bot.cli import main
from bot.config import Policy
from bot.db.models import Department, Staff
from bot.db.models_leak import LeakCase
from bot.db.models_pledge import Departure
from bot.db.models_quiz import QuizAttempt
from bot.db.session import Database
from bot.domain.levels import Level
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.export import compliance_workbook
from bot.handlers.compliance.roster_export import RosterRow, roster_rows, roster_workbook
from bot.handlers.compliance.rules import DepartmentCompliance
from bot.handlers.duties import service as duties
from bot.handlers.leak import service as leak
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.rules import PledgeKind
from bot.services.calendar import work_calendar
from bot.texts import Texts
from tests.conftest import TZ

DAY = date(2026, 10, 12)  # October: all four duties are owed
NOW = datetime(2026, 10, 12, 9, 30, tzinfo=TZ)
BUREAU = "某某区教育局"
SHEETS = ["summary", "pledge", "quiz", "education", "self_check", "inventory", "declassification"]
PEOPLE = [  # employee id, name, department, level
    ("E001", "王芳", "办公室", Level.CORE),
    ("E002", "李强", "办公室", Level.IMPORTANT),
    ("E003", "赵敏", "办公室", Level.GENERAL),
    ("E004", "孙丽", "办公室", Level.NONE),
    ("E101", "周杰", "考试院", Level.IMPORTANT),
    ("E102", "吴磊", "考试院", Level.GENERAL),
    ("E103", "郑洁", "考试院", Level.CORE),  # left on 1 September: in her declassification period
]
LEFT_ON, DECLASSIFIED = date(2026, 9, 1), date(2028, 8, 31)


async def seed(db: Database) -> dict[str, int]:
    """Who did what by 12 October 2026; returns employee id -> staff id."""
    ids: dict[str, int] = {}
    async with db.transaction() as s:
        departments: dict[str, int] = {}
        for employee_id, name, department, level in PEOPLE:
            if department not in departments:
                row = Department(name=department, created_at=NOW)
                s.add(row)
                await s.flush()
                departments[department] = row.id
            staff = Staff(
                employee_id=employee_id,
                name=name,
                department_id=departments[department],
                level=level.value,
                active=employee_id != "E103",
                departed_on=LEFT_ON if employee_id == "E103" else None,
                locale="zh",
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(staff)
            await s.flush()
            ids[employee_id] = staff.id
        for employee_id in ("E001", "E003", "E101"):
            await sign(s, ids[employee_id], PledgeKind.ANNUAL, NOW)
        await sign(s, ids["E001"], PledgeKind.ONBOARDING, datetime(2026, 1, 5, 10, 0, tzinfo=TZ))
        for employee_id, score in (("E001", 92), ("E101", 85), ("E102", 80)):
            s.add(passed_paper(ids[employee_id], score))
        await duties.record_education(s, NOW, ids["E001"], [ids["E001"], ids["E101"]], date(2026, 9, 1), "meeting")
        await duties.record_education(s, NOW, ids["E001"], [ids["E002"]], date(2026, 3, 2), "talk")  # last half-year
        for employee_id in ("E001", "E101"):
            await duties.record_self_check(s, NOW, ids[employee_id], 2026, {"c1": {"answer": "yes", "note": ""}})
        await duties.record_inventory(s, NOW, departments["考试院"], "2026", ids["E101"], 12, True, 0, None)
        s.add(
            Departure(
                staff_id=ids["E103"],
                approved_on=LEFT_ON,
                level=Level.CORE.value,
                months=24,
                ends_on=DECLASSIFIED,
                created_at=NOW,
                completed_at=NOW,
            )
        )
        report = leak.Report(
            kind=leak.Kind.CARRIER_LOST,
            whose=leak.Whose.MINE,
            discovered=leak.Discovered.NOW,
            discovered_on=DAY,
            place="档案室",
            carrier=leak.Carrier.PAPER,
            carrier_count=1,
            level=leak.Marked.SECRET,
        )
        await leak.open_case(s, NOW, Policy(), TZ, ids["E002"], report)
    return ids


async def sign(s: Any, staff_id: int, kind: PledgeKind, at: datetime) -> None:
    shown = pledges.Shown(kind, None, at.year, 1, f"{kind.value} v1")
    await pledges.sign(s, at, staff_id, shown, "签名", "telegram")


def passed_paper(staff_id: int, score: int) -> QuizAttempt:
    return QuizAttempt(
        staff_id=staff_id,
        cycle=2026,
        paper=[],
        status="finished",
        started_at=NOW,
        deadline_at=NOW,
        finished_at=NOW,
        correct=score // 5,
        score=score,
        passed=True,
    )


async def view(db: Database) -> list[DepartmentCompliance]:
    async with db.sessions() as s:
        return await compliance.departments(s, DAY, Policy(), load_catalog().catalog, await work_calendar(s))


def rows(sheet: Worksheet) -> list[tuple[Any, ...]]:
    return list(sheet.iter_rows(min_row=2, values_only=True))


def header(sheet: Worksheet) -> list[Any]:
    return [c.value for c in sheet[1]]


def assert_print_ready(sheet: Worksheet, title: str) -> None:
    assert sheet.freeze_panes == "A2"
    assert all(c.font.b for c in sheet[1]) and sheet["A1"].fill.fgColor.rgb.endswith("DDEBF7")
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.oddHeader.center.text == BUREAU
    assert sheet.oddHeader.left.text == title
    assert "导出于" in sheet.oddHeader.right.text
    assert "&P" in sheet.oddFooter.center.text and "&N" in sheet.oddFooter.center.text
    name_width = sheet.column_dimensions["B"].width
    assert name_width is not None and name_width >= 6  # 姓名: two CJK characters count four


async def test_compliance_workbook(db: Database, texts: Texts) -> None:
    await seed(db)
    departments = await view(db)
    book = load_workbook(io.BytesIO(compliance_workbook(departments, BUREAU, NOW, texts, as_of=DAY)))
    assert book.sheetnames == [texts.render("exports/sheet", "zh", sheet=s) for s in SHEETS]
    for name, sheet in zip(SHEETS, book.worksheets, strict=True):
        assert header(sheet) == texts.render("exports/columns", "zh", sheet=name).split("|")
        assert_print_ready(sheet, texts.render("exports/title", "zh", doc="compliance"))
    summary, pledge, quiz, education, self_check, inventory, leavers = book.worksheets

    due, done = (texts.render("exports/inventory", "zh", state=s) for s in ("due", "done"))
    # Lowest compliance first: 办公室 has done 5 of 13 duties owed, 考试院 5 of 7.
    assert rows(summary) == [
        pytest.approx(("办公室", 4, 5 / 13, 2, 4, 0.5, 1, 4, 0.25, 1, 2, 0.5, 1, 3, 1 / 3, due, 1)),
        pytest.approx(("考试院", 2, 5 / 7, 1, 2, 0.5, 2, 2, 1.0, 1, 1, 1.0, 1, 2, 0.5, done, 0)),
    ]
    assert summary["C2"].number_format == "0%" and summary["F2"].number_format == "0%"

    yes, no = texts.render("exports/done", "zh", done=True), texts.render("exports/done", "zh", done=False)
    core, important = (texts.render("exports/level", "zh", level=v) for v in ("core", "important"))
    assert [(r[0], r[4]) for r in rows(pledge)] == [
        ("E001", yes),
        ("E002", no),
        ("E003", yes),
        ("E004", no),
        ("E101", yes),
        ("E102", no),
    ]
    assert rows(quiz)[0] == ("E001", "王芳", "办公室", core, yes, 92)
    assert rows(quiz)[1] == ("E002", "李强", "办公室", important, no, None)
    assert [r[0] for r in rows(education)] == ["E001", "E002", "E101"]  # core and important staff only
    assert rows(education)[0][4:] == (yes, datetime(2026, 9, 1))
    assert rows(education)[1][4:] == (no, None)  # educated in the first half-year only
    assert education["F2"].is_date and education["F2"].number_format == "yyyy-mm-dd"
    assert [r[0] for r in rows(self_check)] == ["E001", "E002", "E003", "E101", "E102"]  # classified staff
    assert rows(inventory) == [
        ("办公室", "2026", datetime(2026, 12, 18), due),  # 20 December 2026 is a Sunday
        ("考试院", "2026", datetime(2026, 12, 18), done),
    ]
    assert rows(leavers) == [
        ("E103", "郑洁", "考试院", core, datetime(2026, 9, 1), datetime(2028, 8, 31), (DECLASSIFIED - DAY).days)
    ]
    assert leavers["F2"].number_format == "yyyy-mm-dd"


def test_the_workbook_speaks_english(texts: Texts) -> None:
    book = load_workbook(io.BytesIO(compliance_workbook([], "Bureau & Co", NOW, texts, "en")))
    assert book.sheetnames == [texts.render("exports/sheet", "en", sheet=s) for s in SHEETS]
    assert header(book.worksheets[0])[0] == "Department" and book.worksheets[0].max_row == 1
    assert book.worksheets[0].oddHeader.center.text == "Bureau && Co"  # a literal & in Excel's header code


async def test_a_past_day_counts_only_what_was_recorded_by_its_end(db: Database) -> None:
    ids = await seed(db)
    later = datetime(2026, 10, 20, 11, 0, tzinfo=TZ)
    async with db.transaction() as s:
        await sign(s, ids["E002"], PledgeKind.ANNUAL, later)
        await duties.record_self_check(s, later, ids["E003"], 2026, {"c1": {"answer": "yes", "note": ""}})
        case_id = await s.scalar(select(LeakCase.id))
        assert case_id is not None
        await leak.set_status(s, later, case_id, ids["E001"], leak.Status.CONCLUDED, None)
    catalog = load_catalog().catalog

    async def office(day: date, until: datetime | None) -> DepartmentCompliance:
        async with db.sessions() as s:
            found = await compliance.departments(s, day, Policy(), catalog, await work_calendar(s), until=until)
        return next(d for d in found if d.name == "办公室")

    def signed(dept: DepartmentCompliance) -> set[str]:
        return {p.employee_id for p in dept.people if p.pledge}

    def checked(dept: DepartmentCompliance) -> set[str]:
        return {p.employee_id for p in dept.people if p.self_checked}

    # As of 12 October, from what had been recorded by its end: the case was still open.
    then = await office(DAY, datetime(2026, 10, 13, tzinfo=TZ))
    assert (signed(then), checked(then), then.open_cases) == ({"E001", "E003"}, {"E001"}, 1)
    # Today, from everything recorded.
    now = await office(date(2026, 10, 21), None)
    assert (signed(now), checked(now), now.open_cases) == ({"E001", "E002", "E003"}, {"E001", "E003"}, 0)
    # Before the roster was loaded (12 October), nobody was on it.
    async with db.sessions() as s:
        calendar, before = await work_calendar(s), datetime(2026, 10, 2, tzinfo=TZ)
        assert await compliance.departments(s, date(2026, 10, 1), Policy(), catalog, calendar, until=before) == []


async def test_roster_lists_core_and_important_staff(db: Database, texts: Texts) -> None:
    await seed(db)
    async with db.sessions() as s:
        found = await roster_rows(s, 2026, TZ)
        earlier = await roster_rows(s, 2025, TZ)
    assert found == [
        RosterRow("E001", "王芳", "办公室", Level.CORE, date(2026, 1, 5), date(2026, 9, 1)),
        RosterRow("E002", "李强", "办公室", Level.IMPORTANT, None, date(2026, 3, 2)),
        RosterRow("E101", "周杰", "考试院", Level.IMPORTANT, None, date(2026, 9, 1)),
    ]
    assert [(r.onboarding_signed_on, r.educated_on) for r in earlier] == [(None, None)] * 3  # nothing yet in 2025
    book = load_workbook(io.BytesIO(roster_workbook(found, 2026, BUREAU, NOW, texts)))
    [sheet] = book.worksheets
    assert sheet.title == texts.render("exports/sheet", "zh", sheet="roster")
    assert header(sheet) == texts.render("exports/columns", "zh", sheet="roster").split("|")
    assert rows(sheet)[0] == ("E001", "王芳", "办公室", "核心", datetime(2026, 1, 5), datetime(2026, 9, 1))
    assert sheet["E2"].number_format == "yyyy-mm-dd"
    assert_print_ready(sheet, texts.render("exports/title", "zh", doc="roster", year=2026))
    assert "2026" in sheet.oddHeader.left.text


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`baomi` as an officer runs it: the database and the bureau's policy file from the environment."""
    policy = tmp_path / "policy.toml"
    policy.write_text(f'bureau_name = "{BUREAU}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAOMI_DATABASE_URL", db_url)
    monkeypatch.setenv("BAOMI_POLICY_FILE", str(policy))


async def baomi(*argv: str) -> int:
    """The command line's entry point; it runs its own event loop, so in a thread of its own."""
    return await asyncio.to_thread(main, list(argv))


@pytest.mark.usefixtures("cli_env")
async def test_export_compliance_from_the_command_line(
    db: Database, texts: Texts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(db)
    out = tmp_path / "compliance.xlsx"
    assert await baomi("export", "compliance", "--out", str(out), "--at", DAY.isoformat()) == 0
    expected = texts.render("exports/exported", "zh", doc="compliance", departments=2, count=6, as_of=DAY, out=str(out))
    assert capsys.readouterr().out.strip() == expected
    book = load_workbook(out)
    summary = book.worksheets[0]
    assert [r[:3] for r in rows(summary)] == [pytest.approx(("办公室", 4, 5 / 13)), pytest.approx(("考试院", 2, 5 / 7))]
    assert summary.oddHeader.center.text == BUREAU
    assert texts.cn_date(DAY) in summary.oddHeader.right.text
    assert rows(book.worksheets[-1])[0][-1] == (DECLASSIFIED - DAY).days

    assert await baomi("export", "compliance", "--out", str(tmp_path / "c.csv")) == 2
    assert await baomi("export", "compliance", "--out", str(out), "--at", "12/10/2026") == 2
    assert "--at must be YYYY-MM-DD" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_env")
async def test_export_roster_from_the_command_line(
    db: Database, texts: Texts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(db)
    out = tmp_path / "roster.xlsx"
    assert await baomi("export", "roster", "--year", "2026", "--out", str(out)) == 0
    expected = texts.render("exports/exported", "zh", doc="roster", year=2026, count=3, out=str(out))
    assert capsys.readouterr().out.strip() == expected
    [sheet] = load_workbook(out).worksheets
    assert [r[0] for r in rows(sheet)] == ["E001", "E002", "E101"]
    assert sheet.oddHeader.center.text == BUREAU
