"""`pip install .` gives a working `baomi`: the templates, the question bank, the pledge catalogue, the checklist,
the demo roster and the migrations ship inside the wheel, and nothing is read from the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

CHECK = """
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import bot
from bot.cli import main
from bot.handlers.duties.selfcheck import load_checklist
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.quiz.bank import load_bank
from bot.handlers.quiz.service import BANK_PATH
from bot.services.roster import read_roster
from bot.texts import MESSAGES, Texts

installed = Path(sys.argv[1]).resolve()
assert Path(bot.__file__).resolve().is_relative_to(installed), bot.__file__
texts = Texts(ZoneInfo("Asia/Shanghai"))
names = texts.names()
for name in names:
    texts.env.get_template(name + ".j2")
print(len(names), len(load_bank(BANK_PATH).questions), len(load_catalog().catalog.versions), len(load_checklist()),
      len(read_roster(MESSAGES / "demo" / "roster.csv")))
# The command line: the shipped bank checks, and the shipped migrations build a database.
assert main(["quiz", "check"]) == 0
assert main(["db", "upgrade"]) == 0
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy, so that setuptools' build/ folder stays out of the working tree.
    source = tmp_path_factory.mktemp("source") / "baomi"
    skip = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "*.db*")
    shutil.copytree(ROOT, source, symlinks=True, ignore=skip)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    [found] = out.glob("baomi-*.whl")
    return found


def test_the_wheel_holds_the_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.split("/", 1)[1] for n in names if n.startswith("bot/")}
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "messages").rglob("*") if p.is_file()}
    assert {f"messages/{n.split('/', 1)[1]}" for n in on_disk} <= shipped
    assert "db/migrations/env.py" in shipped and any(n.startswith("db/migrations/versions/") for n in shipped)
    assert not any(n.startswith(("tests/", "messages/")) for n in names)  # only inside the package


def test_installed_from_the_wheel_it_runs_without_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "BAOMI_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'b.db'}"}
    checked = subprocess.run(
        [sys.executable, "-c", CHECK, str(target)], cwd=work, env=env, capture_output=True, text=True, check=True
    )
    templates, questions, versions, items, people = map(int, checked.stdout.splitlines()[0].split())
    assert templates > 300 and questions > 100 and versions >= 4 and items > 5 and people > 5
    assert (work / "b.db").stat().st_size > 0  # built by the shipped migrations
