"""Importing the staff roster (CSV in UTF-8, UTF-8 with BOM or GBK; XLSX). All rows valid or nothing changes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Department, Staff
from bot.domain.levels import Role
from bot.domain.roster import (
    RosterError,
    RosterRow,
    RowCode,
    RowError,
    normalise_header,
    validate_header,
    validate_rows,
)
from bot.services import audit
from bot.texts import Texts


def read_roster(path: Path) -> list[RosterRow]:
    """Read and validate a roster file; raises RosterError with every bad row."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    else:
        rows = _csv_rows(_decode(path.read_bytes()))
    return validate_rows(rows)


def _decode(data: bytes) -> str:
    # Excel saves "CSV UTF-8" with a BOM, and plain "CSV" in the system code page (GBK on Chinese Windows).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError([RowError(1, RowCode.UNREADABLE_ENCODING)])


def _csv_rows(content: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(content))
    header = next(reader, None)
    if header is None:
        raise RosterError([RowError(1, RowCode.EMPTY_FILE)])
    columns = normalise_header(header)
    validate_header(columns)
    for index, cells in enumerate(reader, start=2):
        yield index, dict(zip(columns, cells, strict=False))


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise RosterError([RowError(1, RowCode.UNREADABLE_XLSX, {"error": type(exc).__name__})]) from exc
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise RosterError([RowError(1, RowCode.EMPTY_SHEET)])
        columns = normalise_header(_cell(c) for c in header)
        validate_header(columns)
        result = [
            (index, dict(zip(columns, (_cell(c) for c in cells), strict=False)))
            for index, cells in enumerate(rows, start=2)
        ]
    finally:
        book.close()
    return iter(result)


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


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int
    absent: list[tuple[str, str]]  # (employee_id, name) of active staff missing from the file


async def import_roster(
    session: AsyncSession, rows: list[RosterRow], now: datetime, actor_staff_id: int | None = None
) -> ImportResult:
    departments = {d.name: d for d in (await session.scalars(select(Department))).all()}
    existing = {s.employee_id: s for s in (await session.scalars(select(Staff))).all()}
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
            "wecom_userid": row.wecom_userid,
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
