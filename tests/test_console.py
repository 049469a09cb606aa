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


def test_demo_console_run_again_on_its_database_loses_nothing_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BAOMI_DATABASE_URL", raising=False)
    script = tmp_path / "script.txt"
    script.write_text("/status\n/language\n1\n:q\n", encoding="utf-8")
    assert main(["console", "--demo", "--as", "E102", "--script", str(script)]) == 0
    capsys.readouterr()
    # The second run on the same database: the first lines typed are answered too (update ids go on).
    script.write_text("/status\n:q\n", encoding="utf-8")
    assert main(["console", "--demo", "--as", "E102", "--script", str(script)]) == 0
    out = capsys.readouterr().out
    assert "姓名：陈静（工号 E102）" in out


def test_pressing_a_number_after_the_buttons_went_does_not_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BAOMI_DATABASE_URL", raising=False)
    script = tmp_path / "script.txt"
    # /language offers two buttons; pressing one replaces the message without buttons; "1" again must not crash.
    script.write_text("/language\n1\n1\n7\n:q\n", encoding="utf-8")
    assert main(["console", "--demo", "--as", "E103", "--script", str(script)]) == 0
    out = capsys.readouterr().out
    texts = Texts(ZoneInfo("Asia/Shanghai"))
    assert texts.render("core/language_set", "zh", language="中文") in out
