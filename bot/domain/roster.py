"""Validating roster rows (pure): every bad row is reported with its line number and reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


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
        raise RosterError([RowError(1, f"表头缺少列: {', '.join(missing)}(需要 {','.join(REQUIRED_COLUMNS)})")])


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
        reasons = []
        employee_id = cells.get("employee_id", "")
        name = cells.get("name", "")
        department = cells.get("department", "")
        if not employee_id:
            reasons.append("工号为空")
        elif len(employee_id) > MAX_EMPLOYEE_ID:
            reasons.append(f"工号超过 {MAX_EMPLOYEE_ID} 个字符")
        elif employee_id in seen:
            reasons.append(f"工号 {employee_id} 与第 {seen[employee_id]} 行重复")
        if not name:
            reasons.append("姓名为空")
        elif len(name) > MAX_NAME:
            reasons.append(f"姓名超过 {MAX_NAME} 个字符")
        if not department:
            reasons.append("部门为空")
        elif len(department) > MAX_DEPARTMENT:
            reasons.append(f"部门名称超过 {MAX_DEPARTMENT} 个字符")
        level = parse_level(cells.get("level", ""))
        if level is None:
            reasons.append(
                f"涉密等级“{cells.get('level', '')}”无法识别(可填 核心/重要/一般/非涉密 或 core/important/general/none)"
            )
        roles = parse_roles(cells.get("role", ""))
        if roles is None:
            reasons.append(
                f"角色“{cells.get('role', '')}”无法识别(可填 staff/head/officer 或 职工/负责人/保密员,多个用 ; 分隔)"
            )
        wecom = cells.get("wecom_userid") or None
        if wecom and wecom in seen_wecom:
            reasons.append(f"企业微信账号 {wecom} 与第 {seen_wecom[wecom]} 行重复")
        if reasons:
            errors.append(RowError(line, ";".join(reasons)))
            continue
        assert level is not None and roles is not None
        seen[employee_id] = line
        if wecom:
            seen_wecom[wecom] = line
        good.append(RosterRow(line, employee_id, name, department, level, roles, wecom))
    if errors:
        raise RosterError(errors)
    return good
