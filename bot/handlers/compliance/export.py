"""The compliance workbook for the office and inspections: a summary per department, then who owes each duty.

Sheet names, headings and words are templates (exports/*), as in the quiz workbook. Every sheet is ready to
print: a bold, shaded heading row repeated on each page, frozen below it, landscape A4 fitted to the width,
the bureau's name and the export time in the page header and page numbers in the footer. Dates are written as
dates and rates as numbers formatted as percentages, so the office can sort and sum them.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, Duty, PersonCompliance, Tally, lowest_first
from bot.services.sheets import append_row, cell
from bot.texts import Texts

DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0%"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
MAX_WIDTH = 60  # a long name wraps in print rather than pushing the other columns off the page


class Percent(float):
    """A share 0..1 written as a number with a percentage format."""


Cell = str | int | date | Percent | None


def compliance_workbook(
    departments: Sequence[DepartmentCompliance],
    bureau: str,
    exported_at: datetime,
    texts: Texts,
    locale: str = "zh",
    *,
    as_of: date | None = None,
) -> bytes:
    """The workbook of the compliance view. `as_of` is the day the figures are for (default: the export's day);
    days left in a declassification period count from it."""
    day = as_of or exported_at.astimezone(texts.timezone).date()
    leavers = sorted((p for d in departments for p in d.leavers), key=_ends_on)
    tables: list[tuple[str, list[list[Cell]]]] = [
        ("summary", [summary_cells(texts, locale, d) for d in lowest_first([*departments])]),
        *((duty.value, duty_rows(texts, locale, departments, duty)) for duty in DUTIES),
        ("inventory", [inventory_cells(texts, locale, d) for d in departments]),
        ("declassification", [leaver_cells(texts, locale, p, day) for p in leavers]),
    ]
    page = PageText(texts, locale, bureau, "compliance", exported_at, as_of)
    book = Workbook(write_only=True)
    for name, rows in tables:
        sheet = book.create_sheet()
        fill_sheet(sheet, texts, locale, name, rows, page)
    return save(book)


def summary_cells(texts: Texts, locale: str, department: DepartmentCompliance) -> list[Cell]:
    cells: list[Cell] = [department.name, department.headcount, _rate(department.overall)]
    for duty in DUTIES:
        tally = department.tally(duty)
        cells += [tally.done, tally.owed, _rate(tally)]
    return [
        *cells,
        texts.render("exports/inventory", locale, state=department.inventory.value),
        department.open_cases,
    ]


def duty_rows(texts: Texts, locale: str, departments: Sequence[DepartmentCompliance], duty: Duty) -> list[list[Cell]]:
    """Everyone who owes the duty, done or not, department by department."""
    return [duty_cells(texts, locale, p, duty) for d in departments for p in d.people if p.done(duty) is not None]


def duty_cells(texts: Texts, locale: str, person: PersonCompliance, duty: Duty) -> list[Cell]:
    cells = [*_who(texts, locale, person), texts.render("exports/done", locale, done=person.done(duty))]
    if duty is Duty.QUIZ:
        cells.append(person.quiz_score)
    elif duty is Duty.EDUCATION:
        cells.append(person.educated_on)
    return cells


def inventory_cells(texts: Texts, locale: str, department: DepartmentCompliance) -> list[Cell]:
    state = texts.render("exports/inventory", locale, state=department.inventory.value)
    return [department.name, department.inventory_period, department.inventory_deadline, state]


def leaver_cells(texts: Texts, locale: str, person: PersonCompliance, day: date) -> list[Cell]:
    ends = person.declassification_ends_on
    left = (ends - day).days if ends is not None else None
    return [*_who(texts, locale, person), person.departure_approved_on, ends, left]


def _who(texts: Texts, locale: str, person: PersonCompliance) -> list[Cell]:
    level = texts.render("exports/level", locale, level=person.level.value)
    return [person.employee_id, person.name, person.department, level]


def _rate(tally: Tally) -> Percent | None:
    rate = tally.rate
    return None if rate is None else Percent(rate)


def _ends_on(person: PersonCompliance) -> tuple[date, str]:
    return (person.declassification_ends_on or date.max, person.employee_id)


# --- print-ready sheets, shared with the roster (bot/services/roster_export.py) ---


class PageText:
    """What every printed page of a workbook carries: its title, the bureau, when it was exported, page numbers."""

    def __init__(
        self,
        texts: Texts,
        locale: str,
        bureau: str,
        doc: str,
        exported_at: datetime,
        as_of: date | None = None,
        **context: Any,
    ) -> None:
        self.title = texts.render("exports/title", locale, doc=doc, **context)
        self.bureau = bureau
        self.stamp = texts.render("exports/stamp", locale, exported_at=exported_at, as_of=as_of)
        self.footer = texts.render("exports/footer", locale)

    def apply(self, sheet: Any) -> None:
        """Page header and footer, the heading row repeated, landscape A4 fitted to one page wide."""
        sheet.oddHeader.left.text = _escape(self.title)
        sheet.oddHeader.center.text = _escape(self.bureau)
        sheet.oddHeader.right.text = _escape(self.stamp)
        sheet.oddFooter.center.text = self.footer  # its &P and &N are page codes, not text
        sheet.print_title_rows = "1:1"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0  # as many pages down as it takes
        sheet.sheet_properties.pageSetUpPr.fitToPage = True


def fill_sheet(
    sheet: Any, texts: Texts, locale: str, name: str, rows: Sequence[Sequence[Cell]], page: PageText
) -> None:
    """Names a sheet of a write-only workbook (openpyxl streams its rows: a sheet of 100,000 people takes a
    fraction of the time and memory) and writes its heading row (exports/sheet, exports/columns) and rows, formatted.
    The page's settings and the column widths come first, as a streamed sheet needs them before its rows."""
    sheet.title = texts.render("exports/sheet", locale, sheet=name)
    page.apply(sheet)
    header = texts.render("exports/columns", locale, sheet=name).split("|")
    widths = [_width(h) for h in header]
    for values in rows:
        for column, value in enumerate(values):
            widths[column] = max(widths[column], _width(value))
    for column, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(column + 1)].width = min(width + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"
    append_row(sheet, [_heading(sheet, h) for h in header])
    for values in rows:
        append_row(sheet, [_formatted(sheet, v) for v in values])


def _heading(sheet: Any, text: str) -> WriteOnlyCell:
    heading = WriteOnlyCell(sheet, value=cell(text))
    heading.font = Font(bold=True)
    heading.fill = HEADER_FILL
    heading.alignment = Alignment(horizontal="center", vertical="center")
    return heading


def _formatted(sheet: Any, value: Cell) -> Any:
    """A rate as a number formatted as a percentage, a date as a date; anything else as it is."""
    if isinstance(value, Percent):
        rate = WriteOnlyCell(sheet, value=float(value))
        rate.number_format = PERCENT_FORMAT
        return rate
    if isinstance(value, date):
        day = WriteOnlyCell(sheet, value=value)
        day.number_format = DATE_FORMAT
        return day
    return value


def _width(value: Cell) -> int:
    """Columns as Excel measures them: a CJK character takes two."""
    if value is None:
        return 0
    if isinstance(value, Percent):
        return 4
    if isinstance(value, date):
        return len(DATE_FORMAT)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(value))


def _escape(text: str) -> str:
    """A literal & in a page header is written && (a single & starts a code)."""
    return text.replace("&", "&&")


def save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
