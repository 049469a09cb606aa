"""`baomi quiz check`: the shipped bank passes; each kind of malformed bank is rejected, one line per problem."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import check_bank_text
from bot.handlers.quiz.service import BANK_PATH, describe_problems
from bot.texts import Texts
from tests.conftest import TZ

Mutation = Callable[[dict[str, Any]], None]


def shipped() -> dict[str, Any]:
    data = yaml.safe_load(BANK_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def first_single(data: dict[str, Any]) -> dict[str, Any]:
    question = next(q for q in data["questions"] if q["type"] == "single" and len(q["options"]) == 4)
    assert isinstance(question, dict)
    return question


def duplicate_text(data: dict[str, Any]) -> None:
    data["questions"][1]["text"] = data["questions"][0]["text"]


def missing_answer(data: dict[str, Any]) -> None:
    del first_single(data)["answer"]


def answer_out_of_range(data: dict[str, Any]) -> None:
    first_single(data)["answer"] = "E"


def too_few_options(data: dict[str, Any]) -> None:
    question = first_single(data)
    question["options"] = question["options"][:2]
    question["answer"] = "A"


def option_too_long(data: dict[str, Any]) -> None:
    first_single(data)["options"][0] = "保" * 31


def half_width_comma(data: dict[str, Any]) -> None:
    first_single(data)["text"] = "一道新题,题干与其他题都不同？"


def unknown_topic(data: dict[str, Any]) -> None:
    first_single(data)["topic"] = "未列出的主题"


def duplicate_id(data: dict[str, Any]) -> None:
    data["questions"].append({**copy.deepcopy(data["questions"][0]), "text": "另一道题干不同的题目？"})


def test_the_shipped_bank_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quiz", "check"]) == 0
    out = capsys.readouterr().out
    count = re.search(r"(\d+) 道题", out)
    assert count is not None and int(count.group(1)) >= 120


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (duplicate_text, r"^bad\.yaml: q\d+:题干与 q\d+ 重复$"),
        (duplicate_id, r"^bad\.yaml: 第 \d+ 行:编号 q\d+ 重复"),
        (missing_answer, r"^bad\.yaml: q\d+:缺少字段 answer"),
        (answer_out_of_range, r"^bad\.yaml: q\d+:答案 E 超出选项范围"),
        (too_few_options, r"^bad\.yaml: q\d+:选项应有 3–5 个,现有 2 个$"),
        (option_too_long, r"^bad\.yaml: q\d+:选项 A 超过 30 个字"),
        (unknown_topic, r"^bad\.yaml: q\d+:主题 未列出的主题 不在 topics 列表中$"),
        (half_width_comma, r"^bad\.yaml: q\d+:题干中有半角标点“,”"),
    ],
)
def test_each_kind_of_malformed_bank_is_rejected(
    mutate: Mutation, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = shipped()
    mutate(data)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert main(["quiz", "check", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    problems = describe_problems(check_bank_text(bad.read_text(encoding="utf-8")), Texts(TZ), "zh")
    assert lines == [f"bad.yaml: {p}" for p in problems] + [f"题库有 {len(problems)} 处问题"]
    assert len(problems) == 1 and re.match(expected, lines[0]), lines


def test_several_problems_are_listed_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shipped()
    question = first_single(data)
    question["answer"] = "E"
    question["difficulty"] = 7
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert main(["quiz", "check", str(bad)]) == 1
    qid = question["id"]
    assert capsys.readouterr().out.splitlines() == [
        f"bad.yaml: {qid}:难度应为 1、2 或 3,现为 7",
        f"bad.yaml: {qid}:答案 E 超出选项范围(共 4 个选项)",
        "题库有 2 处问题",
    ]


def test_a_broken_bank_stops_a_command_that_loads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = shipped()
    question = first_single(data)
    question["topic"] = "未列出的主题"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(quiz, "BANK_PATH", bad)
    assert main(["export", "quiz", "--year", "2025", "--out", str(tmp_path / "quiz.xlsx")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}: {question['id']}:主题 未列出的主题 不在 topics 列表中",
        "题库有 1 处问题",
    ]
    assert not (tmp_path / "quiz.xlsx").exists()


def test_a_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quiz", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
