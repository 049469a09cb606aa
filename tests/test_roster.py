"""Roster import: encodings, spellings, re-import counts, whole-file rejection."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bot.cli import main
from bot.clock import SettableClock
from bot.db.models import AuditLog, Department, Staff
from bot.db.session import Database
from bot.domain.levels import Level, Role
from bot.domain.roster import (
    MAX_CELLS_PER_ROW,
    MAX_COLUMNS,
    MAX_FIELD,
    MAX_FILE_MB,
    MAX_ROWS,
    MAX_UNPACKED_MB,
    RosterError,
    RowCode,
    RowError,
)
from bot.services.people import by_employee_id
from bot.services.roster import describe_errors, import_roster, read_roster
from bot.texts import LOCALES, Texts
from tests.conftest import TZ

ROWS = [
    ("employee_id", "name", "department", "level", "role"),
    ("E1", "王建国", "办公室", "核心", "保密员;负责人"),
    ("E2", "李秀英", "办公室", "important", "officer"),
    ("E3", "张伟", "考试院", "一般", "职工"),
    ("E4", "陈静", "考试院", "none", "staff"),
    ("E5", "Tom Lee", "考试院", "非涉密", "head；staff"),
]


def rejected(path: Path, locale: str = "zh") -> dict[int, str]:
    """What a person is told about each bad line of the file, as the CLI joins it."""
    with pytest.raises(RosterError) as err:
        read_roster(path)
    joiner = ";" if locale == "zh" else "; "
    return {line: joiner.join(reasons) for line, reasons in describe_errors(err.value.errors, Texts(TZ), locale)}


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
    path = write_csv(tmp_path / "r.csv", rows, "utf-8")
    with pytest.raises(RosterError) as err:
        read_roster(path)
    assert [(e.line, e.code) for e in err.value.errors] == [
        (7, RowCode.EMPTY_ID),
        (8, RowCode.EMPTY_NAME),
        (8, RowCode.UNKNOWN_LEVEL),
        (9, RowCode.DUPLICATE_ID),
        (9, RowCode.UNKNOWN_ROLE),
        (10, RowCode.EMPTY_DEPARTMENT),
    ]
    assert err.value.errors[3].params == {"employee_id": "E3", "first_line": 4}
    assert rejected(path) == {
        7: "工号为空",
        8: "姓名为空;涉密等级“秘密”无法识别(可填 核心/重要/一般/非涉密 或 core/important/general/none)",
        9: "工号 E3 与第 4 行重复;角色“boss”无法识别"
        "(可填 staff/head/officer/leader/group/chief 或 "
        "职工/负责人/保密员/分管领导/领导小组成员/第一责任人,多个用 ; 分隔)",
        10: "部门为空",
    }
    english = rejected(path, "en")
    assert english[7] == "employee ID is empty"
    assert english[9].startswith('employee ID E3 repeats line 4; role "boss" not recognised')


def test_cli_lists_every_bad_line_and_imports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [*ROWS, ("", "无工号", "办公室", "一般", "staff"), ("E3", "重复", "办公室", "一般", "staff")]
    assert main(["roster", "import", str(write_csv(tmp_path / "r.csv", rows, "utf-8"))]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "名单有误，未导入任何数据（2 行有问题）:",
        "  第 7 行: 工号为空",
        "  第 8 行: 工号 E3 与第 4 行重复",
    ]


def test_missing_column_is_reported(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [("employee_id", "name", "level"), ("E1", "王", "一般")], "utf-8")
    assert rejected(path) == {
        1: "表头缺少列: department, role(需要 employee_id,name,department,level,role)",
    }
    assert rejected(path, "en") == {
        1: "the header lacks columns: department, role (needed: employee_id, name, department, level, role)",
    }


def test_unreadable_and_empty_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00\xd8\x81")
    assert rejected(tmp_path / "bad.csv") == {1: "文件编码无法识别(请保存为 UTF-8 或 GBK 编码的 CSV,或 XLSX)"}
    (tmp_path / "empty.csv").write_bytes(b"")
    assert rejected(tmp_path / "empty.csv") == {1: "文件为空"}
    assert rejected(tmp_path / "empty.csv", "en") == {1: "the file is empty"}
    (tmp_path / "broken.xlsx").write_bytes(b"not a workbook")
    [reason] = rejected(tmp_path / "broken.xlsx").values()
    assert reason.startswith("无法读取 XLSX 文件: ")
    Workbook().save(tmp_path / "blank.xlsx")
    assert rejected(tmp_path / "blank.xlsx") == {1: "工作表为空"}


def test_duplicate_wecom_account_and_overlong_cells(tmp_path: Path) -> None:
    rows = [
        ("employee_id", "name", "department", "level", "role", "wecom_userid"),
        ("E1", "王建国", "办公室", "核心", "staff", "wjg"),
        ("E2", "李秀英", "办公室", "一般", "staff", "wjg"),  # line 3
        ("E" * 33, "名" * 51, "部" * 101, "一般", "staff", ""),  # line 4
    ]
    assert rejected(write_csv(tmp_path / "r.csv", rows, "utf-8")) == {
        3: "企业微信账号 wjg 与第 2 行重复",
        4: "工号超过 32 个字符;姓名超过 50 个字符;部门名称超过 100 个字符",
    }


# Parameters for each code, as the validator and the file reader give them.
SAMPLE_PARAMS: dict[RowCode, dict[str, object]] = {
    RowCode.UNREADABLE_ENCODING: {},
    RowCode.EMPTY_FILE: {},
    RowCode.UNREADABLE_XLSX: {"error": "BadZipFile"},
    RowCode.EMPTY_SHEET: {},
    RowCode.MISSING_COLUMNS: {"missing": ["role"], "required": ["employee_id", "role"]},
    RowCode.FILE_TOO_LARGE: {"limit_mb": 10},
    RowCode.TOO_MANY_COLUMNS: {"limit": 32},
    RowCode.TOO_MANY_ROWS: {"limit": 50_000},
    RowCode.ROW_TOO_WIDE: {"limit": 128},
    RowCode.UNREADABLE_CSV: {"error": "unexpected end of data"},
    RowCode.EMPTY_ID: {},
    RowCode.DUPLICATE_ID: {"employee_id": "E1", "first_line": 2},
    RowCode.EMPTY_NAME: {},
    RowCode.EMPTY_DEPARTMENT: {},
    RowCode.UNKNOWN_LEVEL: {"value": "x"},
    RowCode.UNKNOWN_ROLE: {"value": "x"},
    RowCode.DUPLICATE_WECOM: {"wecom_userid": "w", "first_line": 2},
    RowCode.WECOM_TAKEN: {"wecom_userid": "w", "employee_id": "E1"},
    RowCode.BAD_DATE: {"column": "hired_on", "value": "去年"},
    RowCode.CONTROL_CHARACTER: {"column": "name"},
    RowCode.FIELD_TOO_LONG: {"column": "name", "limit": 50},
}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_code_has_wording_in_both_languages(locale: str) -> None:
    assert set(SAMPLE_PARAMS) == set(RowCode)
    texts = Texts(TZ)
    seen = set()
    for code, params in SAMPLE_PARAMS.items():
        [(line, [text])] = describe_errors([RowError(1, code, params)], texts, locale)
        assert line == 1 and text and text != code.value  # a branch of its own, not the fallback
        seen.add(text)
    assert len(seen) == len(RowCode)


async def test_import_then_reimport_counts_and_absentees(db: Database, clock: SettableClock, tmp_path: Path) -> None:
    async with db.transaction() as s:
        first = await import_roster(s, read_roster(write_csv(tmp_path / "a.csv", ROWS, "utf-8")), clock.now(), TZ)
    assert (first.added, first.updated, first.unchanged, first.absent) == (5, 0, 0, [])

    clock.advance(days=1)
    changed = [*ROWS[:3], ("E3", "张伟", "办公室", "一般", "职工"), ROWS[4], ("E6", "新人", "人事科", "一般", "staff")]
    async with db.transaction() as s:
        second = await import_roster(s, read_roster(write_csv(tmp_path / "b.csv", changed, "utf-8")), clock.now(), TZ)
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


def test_wecom_accounts_differing_only_in_case_are_one_account(tmp_path: Path) -> None:
    rows = [
        ("employee_id", "name", "department", "level", "role", "wecom_userid"),
        ("E1", "王建国", "办公室", "核心", "staff", "WangJG"),
        ("E2", "李秀英", "办公室", "一般", "staff", "wangjg"),  # line 3
    ]
    assert rejected(write_csv(tmp_path / "r.csv", rows, "utf-8")) == {3: "企业微信账号 wangjg 与第 2 行重复"}


async def test_a_wecom_account_held_by_someone_left_out_of_the_file_is_refused(
    db: Database, clock: SettableClock, tmp_path: Path
) -> None:
    header = ("employee_id", "name", "department", "level", "role", "wecom_userid")
    first = [header, ("E1", "王建国", "办公室", "核心", "staff", "WangJG")]
    async with db.transaction() as s:
        await import_roster(s, read_roster(write_csv(tmp_path / "a.csv", first, "utf-8")), clock.now(), TZ)
    second = [header, ("E2", "李秀英", "办公室", "一般", "staff", "wangjg")]
    with pytest.raises(RosterError) as err:
        async with db.transaction() as s:
            await import_roster(s, read_roster(write_csv(tmp_path / "b.csv", second, "utf-8")), clock.now(), TZ)
    assert describe_errors(err.value.errors, Texts(TZ), "zh") == [
        (2, ["企业微信账号 wangjg 已是工号 E1 的账号(企业微信不区分大小写)"])
    ]
    async with db.sessions() as s:
        assert [e for (e,) in (await s.execute(select(Staff.employee_id))).all()] == ["E1"]
    # The same person may change the spelling of their own account.
    moved = [header, ("E1", "王建国", "办公室", "核心", "staff", "wangjg")]
    async with db.transaction() as s:
        result = await import_roster(s, read_roster(write_csv(tmp_path / "c.csv", moved, "utf-8")), clock.now(), TZ)
    assert result.updated == 1


# --- hostile and careless files: every failure one clear line, never a traceback, never unbounded work -----------
def xlsx_with_sheet(path: Path, sheet_xml: str, extra: dict[str, bytes] | None = None) -> Path:
    """A real workbook whose first sheet's XML is replaced by `sheet_xml` (what a hand-made or hostile file holds)."""
    template = path.with_suffix(".template.xlsx")
    Workbook().save(template)
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            out.writestr(name, sheet_xml if name == "xl/worksheets/sheet1.xml" else src.read(name))
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return path


def sheet(rows: str, dimension: str = "A1:E2") -> str:
    return (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>'
    )


def row(number: int, *values: str) -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values)
    return f'<row r="{number}">{cells}</row>'


HEADER = row(1, "employee_id", "name", "department", "level", "role")


def test_an_xlsx_declaring_a_huge_dimension_is_read_for_what_it_holds(tmp_path: Path) -> None:
    # A1:XFD1048576 made openpyxl pad every row to 16,384 cells and add rows up to a million: minutes of work.
    rows = (
        HEADER + row(2, "E1", "王建国", "办公室", "核心", "staff") + row(3, "E2", "李秀英", "办公室", "一般", "staff")
    )
    path = xlsx_with_sheet(tmp_path / "huge.xlsx", sheet(rows, dimension="A1:XFD1048576"))
    assert path.stat().st_size < 8_000
    assert [(r.line, r.employee_id) for r in read_roster(path)] == [(2, "E1"), (3, "E2")]


def test_rows_beyond_the_cap_stop_the_reading(tmp_path: Path) -> None:
    lines = [",".join(ROWS[0])] + [f"J{i},某某,办公室,一般,staff" for i in range(MAX_ROWS + 5)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert rejected(path) == {
        MAX_ROWS + 2: f"名单超过 {MAX_ROWS} 行(含空行),未再往下读;请删除多余的行,或分几个文件导入"
    }
    # In a workbook a single row far down counts the same (openpyxl would fill in the rows up to it).
    far = xlsx_with_sheet(tmp_path / "far.xlsx", sheet(HEADER + row(1_000_000, "E1", "王", "办公室", "一般", "staff")))
    assert rejected(far) == {MAX_ROWS + 2: f"名单超过 {MAX_ROWS} 行(含空行),未再往下读;请删除多余的行,或分几个文件导入"}
    # Exactly the cap is fine.
    lines = [",".join(ROWS[0])] + [f"J{i},某某,办公室,一般,staff" for i in range(MAX_ROWS)]
    path.write_text("\n".join(lines), encoding="utf-8")
    assert len(read_roster(path)) == MAX_ROWS


def test_a_row_of_too_many_cells_is_refused_before_openpyxl_builds_it(tmp_path: Path) -> None:
    # The wide row has no number of its own: it is the one after row 2, as openpyxl counts.
    wide = "<row>" + '<c r="A3"/>' * (MAX_CELLS_PER_ROW + 1) + "</row>"
    path = xlsx_with_sheet(tmp_path / "wide.xlsx", sheet(HEADER + row(2, "E1", "王", "办", "一般", "staff") + wide))
    assert rejected(path) == {
        3: f"这一行超过 {MAX_CELLS_PER_ROW} 个单元格(含空单元格),文件可能已损坏;请把名单复制到新的工作簿后再导入"
    }


def test_what_unpacks_into_too_much_is_refused_unread(tmp_path: Path) -> None:
    bomb = b"<sst>" + b"a" * (MAX_UNPACKED_MB * 2**20) + b"</sst>"  # compresses to about 64 KB
    path = xlsx_with_sheet(tmp_path / "bomb.xlsx", sheet(HEADER), {"xl/sharedStrings.xml": bomb})
    assert path.stat().st_size < 200_000
    assert rejected(path) == {1: f"文件超过 {MAX_UNPACKED_MB} MB(解压后),不像一份名单;请只保留名单本身,另存后再导入"}
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (MAX_FILE_MB * 2**20 + 1))
    assert rejected(big, "en") == {
        1: f"the file is over {MAX_FILE_MB} MB (unpacked), too large for a roster; keep only the roster, save it anew "
        "and import that"
    }


def test_too_many_columns_are_refused_but_trailing_empty_ones_are_not(tmp_path: Path) -> None:
    header = (*ROWS[0], *(f"extra{i}" for i in range(MAX_COLUMNS)))
    assert rejected(write_csv(tmp_path / "wide.csv", [header, ROWS[1]], "utf-8")) == {
        1: f"表头超过 {MAX_COLUMNS} 列,请删除多余的列"
    }
    header = (*ROWS[0], *([""] * 100))
    assert len(read_roster(write_csv(tmp_path / "padded.csv", [header, ROWS[1]], "utf-8"))) == 1


def test_a_200k_character_field_is_one_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The csv module refuses a field over 131,072 characters; that used to end in its traceback.
    path = write_csv(tmp_path / "long.csv", [*ROWS, ("E9", "名" * 200_000, "办公室", "一般", "staff")], "utf-8")
    assert main(["roster", "import", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "名单有误，未导入任何数据（1 行有问题）:",
        f"  第 7 行: 有一个字段超过 {MAX_FIELD} 个字符",
    ]
    # In a workbook the field arrives whole, and is measured against its column's limit; nothing is quoted back.
    rows = HEADER + row(2, "E1", "名" * 200_000, "办公室", "核心" * 100_000, "staff")
    book = xlsx_with_sheet(tmp_path / "long.xlsx", sheet(rows))
    assert main(["roster", "import", str(book)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "名单有误，未导入任何数据（1 行有问题）:",
        f"  第 2 行: 姓名超过 50 个字符;涉密等级超过 {MAX_FIELD} 个字符",
    ]


def test_control_characters_are_refused_with_their_column(tmp_path: Path) -> None:
    rows = [
        *ROWS,
        ("E7", "王\x00建国", "办公室", "一般", "staff"),  # line 7: NUL, which the csv module passes through
        ("E8", "李秀英", "办公室", "一般\x00", "staff", "li\x1bying"),  # line 8
    ]
    path = tmp_path / "nul.csv"
    path.write_bytes(b"\n".join(",".join(r).encode() for r in [(*ROWS[0], "wecom_userid"), *rows[1:]]))
    assert rejected(path) == {
        7: "姓名含有控制字符(如 NUL、制表符、单元格内换行),请删除后再导入",
        8: "涉密等级含有控制字符(如 NUL、制表符、单元格内换行),请删除后再导入;"
        "企业微信账号含有控制字符(如 NUL、制表符、单元格内换行),请删除后再导入",
    }
    # XML cannot carry NUL, but it carries tabs, line breaks inside a cell and C1 controls.
    rows_xml = (
        HEADER + row(2, "E1", "王\t建国", "办公室", "核心", "staff") + row(3, "E2", "李&#x85;秀英", "办", "一般", "x")
    )
    book = xlsx_with_sheet(tmp_path / "ctl.xlsx", sheet(rows_xml))
    english = rejected(book, "en")
    assert english == {
        2: "name holds a control character (such as NUL, a tab or a line break inside the cell); delete it and import "
        "again",
        3: "name holds a control character (such as NUL, a tab or a line break inside the cell); delete it and import "
        "again",
    }
    # Whitespace around a value is only trimmed.
    assert [
        r.name
        for r in read_roster(
            write_csv(tmp_path / "ok.csv", [ROWS[0], ("E1", " 王建国\t", "办公室", "核心", "staff")], "utf-8")
        )
    ] == ["王建国"]


def test_an_overlong_wecom_account_and_unrecognised_values_are_quoted_short(tmp_path: Path) -> None:
    rows = [
        (*ROWS[0], "wecom_userid"),
        ("E1", "王建国", "办公室", "核心", "staff", "w" * 65),  # over the database column's 64
        ("E2", "李秀英", "办公室", "最最最最最最最最最最最最最最最最最最最最最最最最高", "staff", ""),
    ]
    assert rejected(write_csv(tmp_path / "r.csv", rows, "utf-8")) == {
        2: "企业微信账号超过 64 个字符",
        3: "涉密等级“最最最最最最最最最最最最最最最最最最最最…”无法识别"
        "(可填 核心/重要/一般/非涉密 或 core/important/general/none)",
    }


def test_a_cell_openpyxl_cannot_read_is_one_line(tmp_path: Path) -> None:
    bad = '<row r="2"><c><v>E1</v></c></row>'  # a number cell holding letters
    path = xlsx_with_sheet(tmp_path / "bad.xlsx", sheet(HEADER + bad))
    [(line, reason)] = rejected(path).items()
    assert line == 2 and reason.startswith("无法读取 XLSX 文件: ")


def test_a_csv_with_old_mac_line_ends_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes("\r".join(",".join(r) for r in ROWS).encode())
    assert len(read_roster(path)) == 5
