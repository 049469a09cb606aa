"""Validating roster rows (pure): every problem is reported with its line number, a code and its parameters.

The wording shown to a person is in messages/roster/row_error.j2 (one branch per code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.levels import Level, Role, parse_level, parse_roles

REQUIRED_COLUMNS = ("employee_id", "name", "department", "level", "role")
OPTIONAL_COLUMNS = ("wecom_userid",)
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
}
MAX_NAME = 50
MAX_DEPARTMENT = 100
MAX_EMPLOYEE_ID = 32


@dataclass(frozen=True)
class RosterRow:
    line: int
    employee_id: str
    name: str
    department: str
    level: Level
    roles: frozenset[Role]
    wecom_userid: str | None = None


class RowCode(StrEnum):
    """What is wrong; the parameters each code carries are listed beside it."""

    # The file as a whole (line 1), found while reading it in bot/services/roster.py.
    UNREADABLE_ENCODING = "unreadable_encoding"
    EMPTY_FILE = "empty_file"
    UNREADABLE_XLSX = "unreadable_xlsx"  # error: the exception's class name
    EMPTY_SHEET = "empty_sheet"
    MISSING_COLUMNS = "missing_columns"  # missing, required: lists of column names
    # One row.
    EMPTY_ID = "empty_id"
    ID_TOO_LONG = "id_too_long"  # limit
    DUPLICATE_ID = "duplicate_id"  # employee_id, first_line
    EMPTY_NAME = "empty_name"
    NAME_TOO_LONG = "name_too_long"  # limit
    EMPTY_DEPARTMENT = "empty_department"
    DEPARTMENT_TOO_LONG = "department_too_long"  # limit
    UNKNOWN_LEVEL = "unknown_level"  # value
    UNKNOWN_ROLE = "unknown_role"  # value
    DUPLICATE_WECOM = "duplicate_wecom"  # wecom_userid, first_line


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
        found: list[RowError] = []
        employee_id = cells.get("employee_id", "")
        name = cells.get("name", "")
        department = cells.get("department", "")
        if not employee_id:
            found.append(RowError(line, RowCode.EMPTY_ID))
        elif len(employee_id) > MAX_EMPLOYEE_ID:
            found.append(RowError(line, RowCode.ID_TOO_LONG, {"limit": MAX_EMPLOYEE_ID}))
        elif employee_id in seen:
            found.append(
                RowError(line, RowCode.DUPLICATE_ID, {"employee_id": employee_id, "first_line": seen[employee_id]})
            )
        if not name:
            found.append(RowError(line, RowCode.EMPTY_NAME))
        elif len(name) > MAX_NAME:
            found.append(RowError(line, RowCode.NAME_TOO_LONG, {"limit": MAX_NAME}))
        if not department:
            found.append(RowError(line, RowCode.EMPTY_DEPARTMENT))
        elif len(department) > MAX_DEPARTMENT:
            found.append(RowError(line, RowCode.DEPARTMENT_TOO_LONG, {"limit": MAX_DEPARTMENT}))
        level = parse_level(cells.get("level", ""))
        if level is None:
            found.append(RowError(line, RowCode.UNKNOWN_LEVEL, {"value": cells.get("level", "")}))
        roles = parse_roles(cells.get("role", ""))
        if roles is None:
            found.append(RowError(line, RowCode.UNKNOWN_ROLE, {"value": cells.get("role", "")}))
        wecom = cells.get("wecom_userid") or None
        if wecom and wecom in seen_wecom:
            found.append(
                RowError(line, RowCode.DUPLICATE_WECOM, {"wecom_userid": wecom, "first_line": seen_wecom[wecom]})
            )
        if found:
            errors.extend(found)
            continue
        assert level is not None and roles is not None
        seen[employee_id] = line
        if wecom:
            seen_wecom[wecom] = line
        good.append(RosterRow(line, employee_id, name, department, level, roles, wecom))
    if errors:
        raise RosterError(errors)
    return good
