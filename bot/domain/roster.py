"""Validating roster rows (pure): every problem is reported with its line number, a code and its parameters.

The wording shown to a person is in messages/roster/row_error.j2 (one branch per code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bot.domain.dates import parse_day
from bot.domain.levels import Level, Role, parse_level, parse_roles

REQUIRED_COLUMNS = ("employee_id", "name", "department", "level", "role")
OPTIONAL_COLUMNS = ("wecom_userid", "hired_on", "secret_matters")
# Headers as a Chinese office would type them in Excel.
HEADER_ALIASES = {
    "工号": "employee_id",
    "员工编号": "employee_id",
    "姓名": "name",
    "部门": "department",
    "科室": "department",
    "涉密等级": "level",
    "等级": "level",
    "角色": "role",
    "企业微信账号": "wecom_userid",
    "上岗日期": "hired_on",
    "入职日期": "hired_on",
    "保密事项": "secret_matters",
}
MAX_NAME = 50
MAX_DEPARTMENT = 100
MAX_EMPLOYEE_ID = 32
MAX_WECOM_USERID = 64  # the column's width in the database
MAX_SECRET_MATTERS = 200
# What a roster can hold, whatever a file declares: the reader stops at these (bot/services/roster.py).
MAX_ROWS = 50_000  # rows below the header, blank ones included
MAX_COLUMNS = 32  # columns in the header
MAX_FIELD = 200  # characters in a field of a known column without a limit of its own (FIELD_LIMITS)
MAX_FILE_MB = 10  # the file as stored (CSV, or XLSX compressed)
MAX_UNPACKED_MB = 64  # an XLSX unpacked: a few kilobytes can unpack into gigabytes
MAX_CELLS_PER_ROW = 128  # cells in one row of an XLSX sheet, empty ones included
# How much of an unrecognised value a message quotes back.
QUOTED = 20


@dataclass(frozen=True)
class RosterRow:
    line: int
    employee_id: str
    name: str
    department: str
    level: Level
    roles: frozenset[Role]
    wecom_userid: str | None = None
    hired_on: date | None = None  # took up the post; None: not given
    secret_matters: str | None = None  # 保密事项 the person handles, as the office words it


class RowCode(StrEnum):
    """What is wrong; the parameters each code carries are listed beside it."""

    # The file as a whole (line 1), found while reading it in bot/services/roster.py.
    UNREADABLE_ENCODING = "unreadable_encoding"
    EMPTY_FILE = "empty_file"
    UNREADABLE_XLSX = "unreadable_xlsx"  # error: the exception's class name
    EMPTY_SHEET = "empty_sheet"
    MISSING_COLUMNS = "missing_columns"  # missing, required: lists of column names
    FILE_TOO_LARGE = "file_too_large"  # limit_mb
    TOO_MANY_COLUMNS = "too_many_columns"  # limit
    # Where the reader stopped.
    TOO_MANY_ROWS = "too_many_rows"  # limit
    ROW_TOO_WIDE = "row_too_wide"  # limit
    UNREADABLE_CSV = "unreadable_csv"  # error: the csv module's message
    # One row.
    EMPTY_ID = "empty_id"
    DUPLICATE_ID = "duplicate_id"  # employee_id, first_line
    EMPTY_NAME = "empty_name"
    EMPTY_DEPARTMENT = "empty_department"
    UNKNOWN_LEVEL = "unknown_level"  # value
    UNKNOWN_ROLE = "unknown_role"  # value
    DUPLICATE_WECOM = "duplicate_wecom"  # wecom_userid, first_line
    BAD_DATE = "bad_date"  # column, value
    WECOM_TAKEN = "wecom_taken"  # wecom_userid, employee_id: another person's account already, in any case
    # Any known column: checked before anything else on the line, which is then left at that.
    CONTROL_CHARACTER = "control_character"  # column ("" when the reader could not tell)
    FIELD_TOO_LONG = "field_too_long"  # column ("" when the reader could not tell), limit


@dataclass(frozen=True)
class RowError:
    """One problem on one line; a line with several problems has several RowErrors, in the order found."""

    line: int
    code: RowCode
    params: Mapping[str, object] = field(default_factory=dict)


class RosterError(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} invalid row(s)")
        self.errors = errors


def normalise_header(header: Iterable[str]) -> list[str]:
    out = []
    for cell in header:
        key = (cell or "").strip().lstrip("\ufeff").lower()
        out.append(HEADER_ALIASES.get(key, key))
    return out


def validate_header(columns: list[str]) -> None:
    # Trailing empty header cells are common (Excel keeps formatted columns); only named columns count.
    if max((i + 1 for i, column in enumerate(columns) if column), default=0) > MAX_COLUMNS:
        raise RosterError([RowError(1, RowCode.TOO_MANY_COLUMNS, {"limit": MAX_COLUMNS})])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise RosterError(
            [RowError(1, RowCode.MISSING_COLUMNS, {"missing": missing, "required": list(REQUIRED_COLUMNS)})]
        )


def validate_rows(rows: Iterable[tuple[int, dict[str, str]]]) -> list[RosterRow]:
    """Raise RosterError listing every bad row, or return the rows all valid."""
    good: list[RosterRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    seen_wecom: dict[str, int] = {}
    for line, raw in rows:
        cells = {k: (v or "").strip() for k, v in raw.items()}
        if not any(cells.values()):
            continue  # blank lines are common at the end of Excel exports
        if unfit := screen(line, cells):
            errors.extend(unfit)
            continue
        found: list[RowError] = []
        employee_id = cells.get("employee_id", "")
        name = cells.get("name", "")
        department = cells.get("department", "")
        if not employee_id:
            found.append(RowError(line, RowCode.EMPTY_ID))
        elif employee_id in seen:
            found.append(
                RowError(line, RowCode.DUPLICATE_ID, {"employee_id": employee_id, "first_line": seen[employee_id]})
            )
        if not name:
            found.append(RowError(line, RowCode.EMPTY_NAME))
        if not department:
            found.append(RowError(line, RowCode.EMPTY_DEPARTMENT))
        level = parse_level(cells.get("level", ""))
        if level is None:
            found.append(RowError(line, RowCode.UNKNOWN_LEVEL, {"value": quoted(cells.get("level", ""))}))
        roles = parse_roles(cells.get("role", ""))
        if roles is None:
            found.append(RowError(line, RowCode.UNKNOWN_ROLE, {"value": quoted(cells.get("role", ""))}))
        wecom = cells.get("wecom_userid") or None
        hired_on = None
        if typed_hire := cells.get("hired_on", ""):
            # Excel hands a date cell over as "2026-03-01 00:00:00".
            typed_day = typed_hire.removesuffix(" 00:00:00")
            parsed = parse_day(typed_day, date.max) if re.match(r"\d{4}\D", typed_day) else None
            if parsed is None or parsed.time is not None:
                found.append(RowError(line, RowCode.BAD_DATE, {"column": "hired_on", "value": quoted(typed_hire)}))
            else:
                hired_on = parsed.day
        # WeCom treats userids without regard to case: two spellings of one are one account.
        if wecom and wecom.lower() in seen_wecom:
            found.append(
                RowError(
                    line, RowCode.DUPLICATE_WECOM, {"wecom_userid": wecom, "first_line": seen_wecom[wecom.lower()]}
                )
            )
        if found:
            errors.extend(found)
            continue
        assert level is not None and roles is not None
        seen[employee_id] = line
        if wecom:
            seen_wecom[wecom.lower()] = line
        matters = cells.get("secret_matters") or None
        good.append(RosterRow(line, employee_id, name, department, level, roles, wecom, hired_on, matters))
    if errors:
        raise RosterError(errors)
    return good


# C0 and C1 control characters, DEL: NUL from a binary paste, line breaks and tabs inside a cell.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# Each known column's limit (the width of its database column); MAX_FIELD for the others.
FIELD_LIMITS = {
    "employee_id": MAX_EMPLOYEE_ID,
    "name": MAX_NAME,
    "department": MAX_DEPARTMENT,
    "wecom_userid": MAX_WECOM_USERID,
    "secret_matters": MAX_SECRET_MATTERS,
}


def screen(line: int, cells: Mapping[str, str]) -> list[RowError]:
    """Control characters and over-long fields in the known columns, one error for each such field: no other
    check makes sense of them, and quoting one back would carry it into the message. Unknown columns are not
    imported, so not looked at."""
    found = []
    for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
        value = cells.get(column, "")
        limit = FIELD_LIMITS.get(column, MAX_FIELD)
        if _CONTROL.search(value):
            found.append(RowError(line, RowCode.CONTROL_CHARACTER, {"column": column}))
        elif len(value) > limit:
            found.append(RowError(line, RowCode.FIELD_TOO_LONG, {"column": column, "limit": limit}))
    return found


def quoted(value: str) -> str:
    """An unrecognised value as a message quotes it: its start only."""
    return value if len(value) <= QUOTED else value[:QUOTED] + "…"
