"""`baomi console --demo`: the README's first command, driven by a script instead of the keyboard."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.texts import Texts


def test_demo_console_binds_chats_and_refuses_a_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo database is made here, and no .env is read
    monkeypatch.delenv("BAOMI_DATABASE_URL", raising=False)
    script = tmp_path / "script.txt"
    script.write_text(":who\n/status\n:photo\n:q\n", encoding="utf-8")
    assert main(["console", "--demo", "--as", "E102", "--script", str(script)]) == 0
    out = capsys.readouterr().out
    texts = Texts(ZoneInfo("Asia/Shanghai"))
    assert texts.render("console/now_as", name="陈静", employee_id="E102") in out
    assert "E302 马琳（人事科）" in out  # :who lists the demo roster
    assert "姓名：陈静（工号 E102）" in out  # /status answered
    assert f"👤 {texts.render('console/photo')}" in out
    refused = texts.render("core/attachment_refused").replace("\n", "\n   ")
    assert refused in out
    assert (tmp_path / "baomi-demo.db").is_file()
