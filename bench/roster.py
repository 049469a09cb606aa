"""Roster import against hostile and careless files, measured against the largest roster the caps allow.

Each file is read by `read_roster` in a fresh process; the script prints the time and the peak resident memory of
that process, the outcome (rows read, or the first line of the refusal), and each figure as a ratio of the same
figures for a valid roster of MAX_ROWS people in XLSX (the baseline: no file should cost more than it).

    python bench/roster.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402

from bot.domain.roster import MAX_ROWS  # noqa: E402

HEADER = ("employee_id", "name", "department", "level", "role")
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

# Runs in the child: read the file, report seconds, peak RSS and the outcome as one JSON line.
CHILD = """
import json, sys, time
from pathlib import Path
from bot.domain.roster import RosterError
from bot.services.roster import read_roster
start = time.perf_counter()
try:
    outcome = f"{len(read_roster(Path(sys.argv[1])))} rows"
except RosterError as exc:
    first = exc.errors[0]
    outcome = f"refused: line {first.line} {first.code.value} ({len(exc.errors)} errors)"
seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent.
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "rss_mb": peak / 1024, "outcome": outcome}))
"""


def measure(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def workbook(path: Path, rows: int) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for i in range(rows):
        sheet.append((f"E{i}", f"姓名{i}", f"部门{i % 50}", "一般", "staff"))
    book.save(path)
    return path


def with_sheet(path: Path, sheet_xml: bytes) -> Path:
    template = path.with_suffix(".template.xlsx")
    Workbook().save(template)
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            out.writestr(name, sheet_xml if name == "xl/worksheets/sheet1.xml" else src.read(name))
    return path


def inline_row(number: int, values: tuple[str, ...]) -> bytes:
    cells = "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values)
    return f'<row r="{number}">{cells}</row>'.encode()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        head = f'<worksheet xmlns="{NS}"><dimension ref="A1:XFD1048576"/><sheetData>'.encode() + inline_row(1, HEADER)
        tail = b"</sheetData></worksheet>"
        junk = b"".join(inline_row(i, ("x", "x", "x", "x", "x")) for i in range(2, 400_002))
        short = b"".join(f'<row r="{i}"><c><v>1</v></c></row>'.encode() for i in range(2, 400_002))
        cases = {
            f"valid roster, {MAX_ROWS:,} people (baseline)": workbook(d / "valid.xlsx", MAX_ROWS),
            "valid roster, 1,000 people": workbook(d / "small.xlsx", 1_000),
            "XLSX declaring A1:XFD1048576, 2 rows": with_sheet(
                d / "dimension.xlsx", head + inline_row(2, ("E1", "王", "办公室", "一般", "staff")) + tail
            ),
            "XLSX, 400,000 junk rows": with_sheet(d / "junk.xlsx", head + junk + tail),
            "XLSX, 400,000 junk rows of one number": with_sheet(d / "short.xlsx", head + short + tail),
            "CSV, 400,000 junk rows": d / "junk.csv",
            "CSV, a 200,000-character field": d / "long.csv",
            "XLSX, a 200,000-character field": with_sheet(
                d / "long.xlsx", head + inline_row(2, ("E1", "名" * 200_000, "办公室", "一般", "staff")) + tail
            ),
        }
        (d / "junk.csv").write_text(",".join(HEADER) + "\n" + "x,x,x,x,x\n" * 400_000, encoding="utf-8")
        (d / "long.csv").write_text(
            ",".join(HEADER) + "\nE1," + "名" * 200_000 + ",办公室,一般,staff\n", encoding="utf-8"
        )
        results = {name: measure(path) for name, path in cases.items()}
        base = next(iter(results.values()))
        print(f"{'file':<44} {'size':>9} {'seconds':>8} {'ratio':>6} {'peak MB':>8} {'ratio':>6}  outcome")
        for (name, path), r in zip(cases.items(), results.values(), strict=True):
            seconds, rss = float(r["seconds"]), float(r["rss_mb"])  # type: ignore[arg-type]
            size = path.stat().st_size
            print(
                f"{name:<44} {size / 1024:>7.0f} K {seconds:>8.2f} {seconds / float(base['seconds']):>6.2f}"  # type: ignore[arg-type]
                f" {rss:>8.0f} {rss / float(base['rss_mb']):>6.2f}  {r['outcome']}"  # type: ignore[arg-type]
            )


if __name__ == "__main__":
    main()
