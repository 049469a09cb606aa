"""Every cell of every workbook and CSV file the bot writes passes here: what people typed (a report's place, a
relayed reply, a name on the roster) is stored as text, never as a formula.

Excel, WPS and LibreOffice take a cell that begins with = + - @ (or a tab or a line break before one of them) as
a formula, in an XLSX written as a formula and in a CSV opened by double-click alike: "=HYPERLINK(...)" would be a
live link, "@SUM(...)" a calculation. Such a text is written with an apostrophe in front, OWASP's advice (CSV
injection), which every spreadsheet shows as the text it was; numbers and dates stay numbers and dates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

# What a spreadsheet may read as the start of a formula: the ASCII signs, their full-width forms (WPS reads those
# too), and the whitespace Excel skips before one.
FORMULA_LEADS = frozenset("=+-@\t\r\n＝＋－＠")


def cell(value: Any) -> Any:
    """The value to write: a text that could start a formula gets an apostrophe in front; anything else as it is."""
    if isinstance(value, str) and value[:1] in FORMULA_LEADS:
        return "'" + value
    return value


def cells(values: Iterable[Any]) -> list[Any]:
    return [cell(v) for v in values]


def append_row(sheet: Any, values: Iterable[Any]) -> None:
    """One row at the end of an openpyxl worksheet. openpyxl takes a text beginning with = for a formula and
    stores any other as text: after `cell`, every text is stored as text."""
    sheet.append(cells(values))


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(cells(row))
    return out.getvalue()


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 with a BOM, so that Excel opens it as UTF-8."""
    return csv_text(rows).encode("utf-8-sig")
