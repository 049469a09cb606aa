"""Importing the staff roster (CSV in UTF-8, UTF-8 with BOM or GBK; XLSX). All rows valid or nothing changes."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO
from xml.parsers import expat
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff
from bot.domain.levels import Role
from bot.domain.roster import (
    MAX_CELLS_PER_ROW,
    MAX_COLUMNS,
    MAX_FIELD,
    MAX_FILE_MB,
    MAX_ROWS,
    MAX_UNPACKED_MB,
    RosterError,
    RosterRow,
    RowCode,
    RowError,
    normalise_header,
    validate_header,
    validate_rows,
)
from bot.services import audit
from bot.services.launch import record_first_import
from bot.texts import Texts


def read_roster(path: Path) -> list[RosterRow]:
    """Read and validate a roster file; raises RosterError with every bad row, and never anything else for what a
    file holds. Whatever a file declares, reading stops at the caps in bot/domain/roster.py: a few kilobytes of
    XLSX can claim a million rows and sixteen thousand columns, or unpack into gigabytes."""
    if path.stat().st_size > MAX_FILE_MB * 2**20:
        raise RosterError([RowError(1, RowCode.FILE_TOO_LARGE, {"limit_mb": MAX_FILE_MB})])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    else:
        rows = _csv_rows(_decode(path.read_bytes()))
    return validate_rows(_capped(rows))


def _capped(rows: Iterator[tuple[int, dict[str, str]]]) -> Iterator[tuple[int, dict[str, str]]]:
    for line, cells in rows:
        if line > MAX_ROWS + 1:
            raise RosterError([RowError(line, RowCode.TOO_MANY_ROWS, {"limit": MAX_ROWS})])
        yield line, cells


def _decode(data: bytes) -> str:
    # Excel saves "CSV UTF-8" with a BOM, and plain "CSV" in the system code page (GBK on Chinese Windows).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError([RowError(1, RowCode.UNREADABLE_ENCODING)])


def _csv_rows(content: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(content, newline=""))  # the csv module splits \r, \n and \r\n itself
    try:
        header = next(reader, None)
        if header is None:
            raise RosterError([RowError(1, RowCode.EMPTY_FILE)])
        columns = normalise_header(header)
        validate_header(columns)
        for index, cells in enumerate(reader, start=2):
            yield index, dict(zip(columns, cells, strict=False))
    except csv.Error as exc:
        # The csv module refuses a field over 131,072 characters; its other complaints are malformed quoting.
        line = reader.line_num or 1
        if "field larger than field limit" in str(exc):
            raise RosterError([RowError(line, RowCode.FIELD_TOO_LONG, {"column": "", "limit": MAX_FIELD})]) from exc
        raise RosterError([RowError(line, RowCode.UNREADABLE_CSV, {"error": str(exc)[:100]})]) from exc


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The first sheet's rows, streamed by openpyxl in read-only mode: its declared dimension ignored, at most
    MAX_COLUMNS + 1 columns and MAX_ROWS + 2 rows read (one more than allowed, to notice the excess)."""
    from openpyxl import load_workbook

    if problem := _unsafe_xlsx(path):
        raise RosterError([problem])
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise RosterError([RowError(1, RowCode.UNREADABLE_XLSX, {"error": type(exc).__name__})]) from exc
    line = 0
    try:
        # Explicit bounds: the sheet's declared dimension (A1:XFD1048576 costs a few bytes) is never consulted.
        rows = book.worksheets[0].iter_rows(max_col=MAX_COLUMNS + 1, max_row=MAX_ROWS + 2, values_only=True)
        header = next(rows, None)
        if header is None:
            raise RosterError([RowError(1, RowCode.EMPTY_SHEET)])
        columns = normalise_header(_cell(c) for c in header)
        validate_header(columns)
        line = 1
        for line, cells in enumerate(rows, start=2):
            yield line, dict(zip(columns, (_cell(c) for c in cells), strict=False))
    except RosterError:
        raise
    except Exception as exc:  # a row openpyxl cannot make sense of, met while streaming
        raise RosterError([RowError(line + 1, RowCode.UNREADABLE_XLSX, {"error": type(exc).__name__})]) from exc
    finally:
        book.close()


def _unsafe_xlsx(path: Path) -> RowError | None:
    """What openpyxl must not be given: a package unpacking into more than MAX_UNPACKED_MB, or a sheet row of more
    than MAX_CELLS_PER_ROW cells (openpyxl builds a whole row before we could stop it). Scanned with expat, which
    keeps nothing; a package that is no zip or no XML is left to openpyxl to report."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > MAX_UNPACKED_MB * 2**20:
                return RowError(1, RowCode.FILE_TOO_LARGE, {"limit_mb": MAX_UNPACKED_MB})
            for member in members:
                if member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml"):
                    with archive.open(member) as stream:
                        if (line := _too_wide_row(stream)) is not None:
                            return RowError(line, RowCode.ROW_TOO_WIDE, {"limit": MAX_CELLS_PER_ROW})
    except Exception:  # no zip, no XML, encrypted, damaged: openpyxl says so next, as UNREADABLE_XLSX
        return None
    return None


class _Found(Exception):
    def __init__(self, line: int | None) -> None:
        self.line = line


def _too_wide_row(stream: IO[bytes]) -> int | None:
    """The line of the first row with more than MAX_CELLS_PER_ROW cells, among the rows the reader would read."""
    parser = expat.ParserCreate(namespace_separator=" ")
    rows = cells = line = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal rows, cells, line
        local = name.rpartition(" ")[2]
        if local == "row":
            rows += 1
            cells = 0
            number = attributes.get("r", "")
            line = int(number) if number.isdigit() else line + 1  # as openpyxl numbers them
            if rows > MAX_ROWS + 2:
                raise _Found(None)  # beyond what the reader takes
        elif local == "c":
            cells += 1
            if cells > MAX_CELLS_PER_ROW:
                raise _Found(line)

    parser.StartElementHandler = start
    try:
        parser.ParseFile(stream)
    except _Found as found:
        return found.line
    return None


def describe_errors(errors: Sequence[RowError], texts: Texts, locale: str) -> list[tuple[int, list[str]]]:
    """Each line with problems, in order, and what is wrong with it in `locale` (messages/roster/row_error)."""
    by_line: dict[int, list[str]] = {}
    for error in errors:
        text = texts.render("roster/row_error", locale, code=error.code.value, **error.params)
        by_line.setdefault(error.line, []).append(text)
    return sorted(by_line.items())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # employee ids typed as numbers come back as 1001.0
    return str(value)


def check_wecom_accounts(rows: list[RosterRow], staff: Iterable[Staff]) -> None:
    """Refuse a WeCom account that someone the file leaves out holds already under any spelling: WeCom does not
    tell Abc from abc, so both would be one account bound to two people."""
    in_file = {row.employee_id for row in rows}
    held = {s.wecom_userid.lower(): s.employee_id for s in staff if s.wecom_userid and s.employee_id not in in_file}
    errors = [
        RowError(row.line, RowCode.WECOM_TAKEN, {"wecom_userid": row.wecom_userid, "employee_id": owner})
        for row in rows
        if row.wecom_userid and (owner := held.get(row.wecom_userid.lower())) is not None
    ]
    if errors:
        raise RosterError(errors)


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int
    absent: list[tuple[str, str]]  # (employee_id, name) of active staff missing from the file


async def import_roster(
    session: AsyncSession,
    rows: list[RosterRow],
    now: datetime,
    timezone: ZoneInfo,
    actor_staff_id: int | None = None,
) -> ImportResult:
    """Add and update the people of the file; the first import of the bureau is the day its launch grace runs
    from (bot/services/launch.py)."""
    await record_first_import(session, now, timezone)
    departments = {d.name: d for d in (await session.scalars(select(Department))).all()}
    existing = {s.employee_id: s for s in (await session.scalars(select(Staff))).all()}
    check_wecom_accounts(rows, existing.values())
    added = updated = unchanged = 0
    for row in rows:
        dept = departments.get(row.department)
        if dept is None:
            dept = Department(name=row.department, created_at=now)
            session.add(dept)
            await session.flush()
            departments[row.department] = dept
        staff = existing.get(row.employee_id)
        values = {
            "name": row.name,
            "department_id": dept.id,
            "level": row.level.value,
            "is_head": Role.HEAD in row.roles,
            "is_officer": Role.OFFICER in row.roles,
            "is_leader": Role.LEADER in row.roles,
            "is_group_member": Role.GROUP in row.roles,
            "is_chief": Role.CHIEF in row.roles,
            "wecom_userid": row.wecom_userid,
            "hired_on": row.hired_on,
            "secret_matters": row.secret_matters,
        }
        if staff is None:
            session.add(
                Staff(employee_id=row.employee_id, active=True, locale="zh", created_at=now, updated_at=now, **values)
            )
            added += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(staff, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(staff, key, value)
            staff.updated_at = now
            updated += 1
        else:
            unchanged += 1
    in_file = {r.employee_id for r in rows}
    absent = sorted((s.employee_id, s.name) for s in existing.values() if s.active and s.employee_id not in in_file)
    await session.flush()
    await audit.record(
        session,
        now,
        actor_staff_id,
        "roster.import",
        "roster",
        added=added,
        updated=updated,
        unchanged=unchanged,
        absent=len(absent),
    )
    return ImportResult(added, updated, unchanged, absent)
