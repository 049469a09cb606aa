"""Settings from the environment and .env; policy from TOML; clear one-line errors."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import DEFAULT_TELEGRAM_API_URL, ConfigError, Policy, Settings


def test_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({}, workdir=tmp_path)
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'baomi.db'}"
    assert str(s.timezone) == "Asia/Shanghai"
    assert s.telegram_api_url == DEFAULT_TELEGRAM_API_URL
    assert s.policy == Policy()
    assert (
        s.policy.declassification_months_general,
        s.policy.declassification_months_important,
        s.policy.declassification_months_core,
    ) == (6, 12, 24)


def test_env_beats_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BAOMI_TELEGRAM_TOKEN=from-file\nBAOMI_TIMEZONE=Asia/Urumqi\n")
    s = Settings.from_env({"BAOMI_TIMEZONE": "Asia/Shanghai"}, workdir=tmp_path)
    assert s.telegram_token == "from-file"
    assert str(s.timezone) == "Asia/Shanghai"


def test_policy_file_overrides(tmp_path: Path) -> None:
    f = tmp_path / "policy.toml"
    f.write_text(
        'quiz_pass_mark = 85\nworking_hours_start = "08:30"\ninventory_deadlines = [[6, 30], [12, 20]]\n'
        "roster_export_in_chat = true\n"
    )
    s = Settings.from_env({"BAOMI_POLICY_FILE": str(f)}, workdir=tmp_path)
    assert not Policy().roster_export_in_chat  # the 花名册 stays off the chat unless the bureau says so
    assert s.policy.roster_export_in_chat
    assert s.policy.quiz_pass_mark == 85
    assert s.policy.working_hours_start == time(8, 30)
    assert s.policy.inventory_deadlines == ((6, 30), (12, 20))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("quiz_pass_mrk = 85\n", "unknown policy setting 'quiz_pass_mrk'"),
        ("quiz_pass_mark = 'high'\n", "must be a int"),
        ("quiz_pass_mark = \n", "not valid TOML"),
        ("roster_export_in_chat = 'no'\n", "roster_export_in_chat must be true or false"),
    ],
)
def test_bad_policy_file(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "policy.toml"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"BAOMI_POLICY_FILE": str(f)}, workdir=tmp_path)


def test_missing_token_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BAOMI_TELEGRAM_TOKEN", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "BAOMI_TELEGRAM_TOKEN is not set" in err[0]


def test_unreachable_database_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAOMI_DATABASE_URL", "postgresql+asyncpg://nobody:secret@127.0.0.1:1/none")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the database" in err[0] and "BAOMI_DATABASE_URL" in err[0]
    assert "secret" not in err[0]


def test_public_url(tmp_path: Path) -> None:
    assert Settings.from_env({}, workdir=tmp_path).public_url is None
    given = {"BAOMI_PUBLIC_URL": "https://bot.example.edu.cn/"}
    assert Settings.from_env(given, workdir=tmp_path).public_url == "https://bot.example.edu.cn"
    with pytest.raises(ConfigError, match="BAOMI_PUBLIC_URL"):
        Settings.from_env({"BAOMI_PUBLIC_URL": "bot.example.edu.cn"}, workdir=tmp_path)
