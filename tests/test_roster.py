"""Roster import: encodings, spellings, re-import counts, whole-file rejection."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bot.clock import SettableClock
from bot.db.models import AuditLog, Department, Staff
from bot.db.session import Database
from bot.domain.levels import Level, Role
from bot.domain.roster import RosterError
from bot.services.people import by_employee_id
from bot.services.roster import import_roster, read_roster

ROWS = [
    ("employee_id", "name", "department", "level", "role"),
    ("E1", "王建国", "办公室", "核心", "保密员;负责人"),
    ("E2", "李秀英", "办公室", "important", "officer"),
    ("E3", "张伟", "考试院", "一般", "职工"),
    ("E4", "陈静", "考试院", "none", "staff"),
    ("E5", "Tom Lee", "考试院", "非涉密", "head；staff"),
]


def write_csv(path: Path, rows: list[tuple[str, ...]], encoding: str) -> Path:
    path.write_bytes("\r\n".join(",".join(r) for r in rows).encode(encoding) + b"\r\n")
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_every_excel_encoding(tmp_path: Path, encoding: str) -> None:
    rows = read_roster(write_csv(tmp_path / "r.csv", ROWS, encoding))
    assert [r.name for r in rows] == ["王建国", "李秀英", "张伟", "陈静", "Tom Lee"]
    assert rows[0].department == "办公室"


def test_xlsx(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in ROWS:
        sheet.append(list(row))
    sheet.append([1006, "马琳", "人事科", "重要", "staff"])  # an id typed as a number in Excel
    book.save(tmp_path / "r.xlsx")
    rows = read_roster(tmp_path / "r.xlsx")
    assert [r.employee_id for r in rows] == ["E1", "E2", "E3", "E4", "E5", "1006"]
    assert rows[-1].level is Level.IMPORTANT


def test_chinese_and_english_spellings_and_several_roles(tmp_path: Path) -> None:
    rows = {r.employee_id: r for r in read_roster(write_csv(tmp_path / "r.csv", ROWS, "utf-8"))}
    assert rows["E1"].level is Level.CORE
    assert rows["E1"].roles == {Role.STAFF, Role.OFFICER, Role.HEAD}
    assert rows["E2"].level is Level.IMPORTANT and rows["E2"].roles == {Role.STAFF, Role.OFFICER}
    assert rows["E3"].level is Level.GENERAL and rows["E3"].roles == {Role.STAFF}
    assert rows["E4"].level is Level.NONE
    assert rows["E5"].level is Level.NONE and rows["E5"].roles == {Role.STAFF, Role.HEAD}


def test_chinese_headers(tmp_path: Path) -> None:
    rows = [("工号", "姓名", "部门", "涉密等级", "角色"), ("E9", "孙强", "人事科", "重要", "负责人")]
    [row] = read_roster(write_csv(tmp_path / "r.csv", rows, "gbk"))
    assert (row.employee_id, row.department, row.roles) == ("E9", "人事科", {Role.STAFF, Role.HEAD})


def test_bad_rows_reported_with_every_line_number(tmp_path: Path) -> None:
    rows = [
        *ROWS,
        ("", "无工号", "办公室", "一般", "staff"),  # line 7
        ("E8", "", "办公室", "秘密", "staff"),  # line 8: no name, unknown level
        ("E3", "重复", "办公室", "一般", "boss"),  # line 9: duplicate id, unknown role
        ("E10", "缺部门", "", "一般", "staff"),  # line 10
    ]
    with pytest.raises(RosterError) as err:
        read_roster(write_csv(tmp_path / "r.csv", rows, "utf-8"))
    lines = {e.line: e.reason for e in err.value.errors}
    assert sorted(lines) == [7, 8, 9, 10]
    assert "工号为空" in lines[7]
    assert "姓名为空" in lines[8] and "秘密" in lines[8]
    assert "第 4 行重复" in lines[9] and "boss" in lines[9]
    assert "部门为空" in lines[10]


def test_missing_column_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RosterError) as err:
        read_roster(write_csv(tmp_path / "r.csv", [("employee_id", "name", "level"), ("E1", "王", "一般")], "utf-8"))
    assert "department" in err.value.errors[0].reason and "role" in err.value.errors[0].reason


async def test_import_then_reimport_counts_and_absentees(db: Database, clock: SettableClock, tmp_path: Path) -> None:
    async with db.transaction() as s:
        first = await import_roster(s, read_roster(write_csv(tmp_path / "a.csv", ROWS, "utf-8")), clock.now())
    assert (first.added, first.updated, first.unchanged, first.absent) == (5, 0, 0, [])

    clock.advance(days=1)
    changed = [*ROWS[:3], ("E3", "张伟", "办公室", "一般", "职工"), ROWS[4], ("E6", "新人", "人事科", "一般", "staff")]
    async with db.transaction() as s:
        second = await import_roster(s, read_roster(write_csv(tmp_path / "b.csv", changed, "utf-8")), clock.now())
    assert (second.added, second.updated, second.unchanged) == (1, 1, 3)
    assert second.absent == [("E5", "Tom Lee")]

    async with db.sessions() as s:
        moved = await by_employee_id(s, "E3")
        absent = await s.scalar(select(Staff).where(Staff.employee_id == "E5"))
        departments = set((await s.scalars(select(Department.name))).all())
        imports = (await s.scalars(select(AuditLog).where(AuditLog.action == "roster.import"))).all()
    assert moved is not None and moved.department == "办公室"
    assert absent is not None and absent.active  # listed, never deleted silently
    assert departments == {"办公室", "考试院", "人事科"}
    assert [a.detail["added"] for a in imports] == [5, 1]


async def test_invalid_file_changes_nothing(db: Database, clock: SettableClock, tmp_path: Path) -> None:
    bad = [*ROWS, ("E9", "坏行", "办公室", "绝密", "staff")]
    with pytest.raises(RosterError):
        read_roster(write_csv(tmp_path / "r.csv", bad, "utf-8"))
    async with db.sessions() as s:
        assert (await s.scalars(select(Staff))).all() == []
