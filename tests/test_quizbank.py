from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.handlers.quiz.bank import (
    TOPICS,
    WHOLE_FILE,
    Bank,
    BankCode,
    BankError,
    BankProblem,
    DrawnQuestion,
    Location,
    Question,
    QuestionType,
    check_bank_text,
    draw_paper,
    half_width_mark,
    is_correct,
    load_bank,
    score_percent,
)
from bot.handlers.quiz.service import describe_problems
from bot.texts import LOCALES, Texts
from tests.conftest import TZ

BANK_PATH = Path(__file__).parent.parent / "messages" / "quiz" / "bank.yaml"
REGULATIONS_PATH = Path(__file__).parent / "data" / "regulations-zh.txt"
REQUIRED_TOPICS = (
    "涉密人员",
    "涉密载体",
    "文件传阅",
    "会议活动",
    "网络与计算机",
    "信息发布",
    "定密解密",
    "离岗与脱密期",
    "泄密报告",
    "保密组织",
    "保密教育",
)


# ---------------------------------------------------------------- the shipped bank


@pytest.fixture(scope="module")
def shipped() -> Bank:
    return load_bank(BANK_PATH)


def test_shipped_bank_has_no_problems() -> None:
    assert check_bank_text(BANK_PATH.read_text(encoding="utf-8")) == []


def test_shipped_bank_size_topics_and_mix(shipped: Bank) -> None:
    assert len(shipped.questions) >= 120
    assert shipped.topics == REQUIRED_TOPICS
    per_topic = Counter(q.topic for q in shipped.questions)
    assert {t: n for t, n in per_topic.items() if n < 6} == {}
    assert set(per_topic) == set(REQUIRED_TOPICS)
    share = {t: n / len(shipped.questions) for t, n in Counter(q.type for q in shipped.questions).items()}
    assert 0.45 <= share[QuestionType.SINGLE] <= 0.65
    assert 0.18 <= share[QuestionType.MULTIPLE] <= 0.32
    assert 0.14 <= share[QuestionType.TRUEFALSE] <= 0.26


# National rules the bureau's compilation does not quote: a question resting on one cites it by name and article.
NATIONAL_RULES = ("保密法实施条例 第", "泄密案件查处办法 第", "公职人员政务处分法 第")


def test_every_source_is_verbatim_in_the_regulations_or_cites_a_national_rule(shipped: Bank) -> None:
    regulations = REGULATIONS_PATH.read_text(encoding="utf-8")
    missing = [
        q.id
        for q in shipped.questions
        if not q.source.startswith(NATIONAL_RULES) and (len(q.source) < 8 or q.source not in regulations)
    ]
    assert missing == []


def test_the_bank_corrections_of_issue_15(shipped: Bank) -> None:
    """Point 8: wrong or misleading questions fixed, enterprise content dropped, absurd distractors replaced."""
    ids = {q.id for q in shipped.questions}
    assert not ids & {"q057", "q059", "q065", "q066", "q072"}
    assert {"q149", "q150", "q151"} <= ids
    determination = shipped.by_id("q090")  # 承办人 proposes, the 定密责任人 decides
    assert "定密责任人" in determination.options[min(determination.answer)]
    assert not {"降职", "辞退"} & set(shipped.by_id("q118").options)  # not 处分
    everything = [text for q in shipped.questions for text in (q.text, q.explanation, *q.options)]
    assert not [t for t in everything if "旅游" in t or "理财" in t]
    assert not [t for t in everything if half_width_mark(t)]


@pytest.mark.parametrize(
    ("field", "value", "mark", "letter"),
    [
        ("text", "下列人员中,属于核心涉密人员的是:", ",", None),
        ("explanation", "见第十三条(离岗)。", "(", None),
        ("options", "经批准(登记)后", "(", "A"),
    ],
)
def test_half_width_punctuation_in_chinese_text_is_flagged(
    field: str, value: str, mark: str, letter: str | None
) -> None:
    question = _question()
    if field == "options":
        question["options"] = [value, *question["options"][1:]]
    else:
        question[field] = value
    problems = check_bank_text(_bank_text(question))
    assert [(p.code, p.params) for p in problems] == [
        (BankCode.HALF_WIDTH_PUNCTUATION, {"field": field, "mark": mark, "letter": letter})
    ]


@pytest.mark.parametrize("text", ["版本 3.5 的题目。", "选A/B均可。", "HTTP:80 端口"])
def test_marks_between_latin_letters_and_digits_are_left_alone(text: str) -> None:
    assert half_width_mark(text) is None


def test_shipped_true_false_questions_have_fixed_options(shipped: Bank) -> None:
    true_false = [q for q in shipped.questions if q.type is QuestionType.TRUEFALSE]
    assert true_false
    assert {q.options for q in true_false} == {("正确", "错误")}


def test_by_id_finds_each_question(shipped: Bank) -> None:
    for question in shipped.questions:
        assert shipped.by_id(question.id) is question
    with pytest.raises(KeyError):
        shipped.by_id("q999999")


# ---------------------------------------------------------------- check_bank_text


_REMOVE = object()


def _question(**changes: Any) -> dict[str, Any]:
    question: dict[str, Any] = {
        "id": "q001",
        "type": "single",
        "topic": "涉密人员",
        "difficulty": 1,
        "text": "能够接触到绝密级涉密信息的人员属于哪一类？",
        "options": ["一般涉密人员", "重要涉密人员", "核心涉密人员", "非涉密人员"],
        "answer": "C",
        "explanation": "核心涉密人员可接触绝密级信息。",
        "source": "核心涉密人员:指能够接触到绝密级涉密信息的人员",
    }
    for key, value in changes.items():
        if value is _REMOVE:
            del question[key]
        else:
            question[key] = value
    return question


_MULTIPLE = {
    "id": "q002",
    "type": "multiple",
    "topic": "涉密载体",
    "difficulty": 2,
    "text": "收发涉密载体应当履行哪些手续？",
    "options": ["清点", "登记", "签收", "拍照发群"],
    "answer": "ABC",
    "explanation": "收发涉密载体应当清点、登记、编号、签收。",
    "source": "收发涉密载体应当履行清点、登记、编号、签收等手续。",
}

_TRUEFALSE = {
    "id": "q003",
    "type": "truefalse",
    "topic": "涉密载体",
    "difficulty": 1,
    "text": "涉密载体可以作为废品出售。",
    "answer": False,
    "explanation": "禁止将涉密载体作为废品出售。",
    "source": "禁止将涉密载体作为废品出售。",
}


def _bank_text(*questions: dict[str, Any]) -> str:
    document = {"topics": ["涉密人员", "涉密载体"], "questions": list(questions)}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def described(text: str, locale: str = "zh") -> list[str]:
    """What a person is told about each problem of the bank, as `baomi quiz check` prints it after the file name."""
    return describe_problems(check_bank_text(text), Texts(TZ), locale)


def test_small_valid_bank_parses() -> None:
    text = _bank_text(_question(), _MULTIPLE, _TRUEFALSE)
    assert check_bank_text(text) == []


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (_question(explanation=_REMOVE), "缺少字段 explanation(解析)"),
        (_question(answer=_REMOVE), "缺少字段 answer(答案)"),
        (_question(type="essay"), "题型 essay 无效,应为 single(单选)、multiple(多选)或 truefalse(判断)"),
        (_question(topic="考试安全"), "主题 考试安全 不在 topics 列表中"),
        (_question(answer="E"), "答案 E 超出选项范围(共 4 个选项)"),
        (_question(answer="AB"), "单选题应有且只有 1 个答案,现有 2 个"),
        (_question(answer="1"), "答案 1 无效,应写大写选项字母,如 B 或 ACD"),
        (_question(answer="b"), "答案 b 无效,应写大写选项字母,如 B 或 ACD"),
        (_question(type="multiple", answer="ABB"), "答案中字母 B 重复"),
        (_question(type="multiple", answer="C"), "多选题至少应有 2 个答案,现有 1 个"),
        (_question(options=["核心涉密人员", "一般涉密人员"], answer="A"), "选项应有 3–5 个,现有 2 个"),
        (_question(options=list("ABCDEF"), answer="A"), "选项应有 3–5 个,现有 6 个"),
        (_question(options=["保密员", "保密员。", "网管"], answer="A"), "选项 B 与选项 A 相同"),
        (_question(options=["甲", "乙" * 31, "丙"], answer="A"), "选项 B 超过 30 个字(现为 31 个字)"),
        (_question(options=["甲", "", "丙"], answer="A"), "选项 B 为空或不是文字"),
        (_question(options="甲、乙、丙"), "选项应为列表"),
        (_question(difficulty=4), "难度应为 1、2 或 3,现为 4"),
        (_question(difficulty=0), "难度应为 1、2 或 3,现为 0"),
        (_question(difficulty=True), "难度应为 1、2 或 3,现为 True"),
        (_question(explanation=""), "解析不能为空"),
        (_question(source="   "), "出处不能为空"),
        (_question(text=42), "题干应为文字"),
        (
            _question(type="truefalse", options=_REMOVE, answer="正确"),
            "判断题答案应为 true(正确)或 false(错误),现为 正确",
        ),
        (_question(type="truefalse", answer=True), "判断题不写选项(固定为 正确/错误)"),
        (_question(type="multiple", options=_REMOVE, answer="AC"), "缺少字段 options(选项)"),
    ],
)
def test_each_malformed_question_is_reported(question: dict[str, Any], message: str) -> None:
    assert described(_bank_text(question)) == [f"q001:{message}"]


def test_a_problem_is_a_location_a_code_and_its_parameters() -> None:
    text = _bank_text(_question(options=["甲", "乙" * 31, "丙"], answer="AB"))
    assert check_bank_text(text) == [
        BankProblem(Location(question="q001"), BankCode.OPTION_TOO_LONG, {"letter": "B", "limit": 30, "length": 31}),
        BankProblem(Location(question="q001"), BankCode.SINGLE_ANSWER_COUNT, {"count": 2}),
    ]
    assert described(text, "en") == [
        "q001: option B is longer than 30 characters (31)",
        "q001: a single-choice question has exactly 1 answer, not 2",
    ]


def test_question_without_usable_id_is_located_by_line() -> None:
    text = _bank_text(_MULTIPLE, _question(id="Q1"))
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "id: Q1" in row)
    assert check_bank_text(text) == [BankProblem(Location(line=line), BankCode.BAD_ID, {"id": "Q1"})]
    assert described(text) == [f"第 {line} 行:编号 Q1 格式不对,应形如 q001"]
    assert described(text, "en") == [f"line {line}: id Q1 is malformed: it should look like q001"]


def test_unknown_field_is_reported_next_to_the_missing_one() -> None:
    question = _question(explanation=_REMOVE, explaination="拼错了字段名")
    assert described(_bank_text(question)) == [
        "q001:未知字段 explaination",
        "q001:缺少字段 explanation(解析)",
    ]


def test_duplicate_ids_are_reported_with_both_lines() -> None:
    text = _bank_text(_question(), _question(text="另一道题的题干？"))
    lines = [i for i, row in enumerate(text.splitlines(), 1) if row.startswith("- id: q001")]
    assert check_bank_text(text) == [
        BankProblem(Location(line=lines[1]), BankCode.DUPLICATE_ID, {"id": "q001", "first_line": lines[0]})
    ]
    assert described(text) == [f"第 {lines[1]} 行:编号 q001 重复(第 {lines[0]} 行已使用)"]


def test_duplicate_texts_differing_only_in_spacing_and_punctuation_are_reported() -> None:
    text = _bank_text(_question(), _question(id="q002", text="能够接触到 绝密级涉密信息的人员；属于哪一类"))
    assert check_bank_text(text) == [
        BankProblem(Location(question="q002"), BankCode.DUPLICATE_TEXT, {"first": Location(question="q001")})
    ]
    assert described(text) == ["q002:题干与 q001 重复"]
    assert described(text, "en") == ["q002: same question text as q001"]


def test_yaml_syntax_error_reports_its_line() -> None:
    text = "topics: [涉密人员]\nquestions:\n  - id: q001\n    text: 题干: 冒号后有空格\n"
    [problem] = check_bank_text(text)
    assert (problem.where, problem.code) == (Location(line=4), BankCode.YAML_SYNTAX)
    assert described(text) == ["第 4 行:YAML 格式错误(mapping values are not allowed here),请检查缩进、冒号和引号"]


def test_duplicate_key_in_a_question_is_reported() -> None:
    text = _bank_text(_question()).replace("answer: C\n", "answer: C\n  answer: A\n")
    rows = text.splitlines()
    first = rows.index("  answer: C") + 1
    assert described(text) == [f"第 {first + 1} 行:字段 answer 重复出现(第 {first} 行已有)"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "整个文件:题库应由 topics(主题列表)和 questions(题目列表)两部分组成"),
        ("- 一道题\n", "整个文件:题库应由 topics(主题列表)和 questions(题目列表)两部分组成"),
        ("topics: [涉密人员]\nquestions: []\n", "整个文件:缺少 questions 题目列表,或列表为空"),
    ],
)
def test_bank_without_questions_is_rejected(text: str, problem: str) -> None:
    assert described(text) == [problem]


def test_topics_list_problems() -> None:
    text = yaml.safe_dump(
        {"topics": ["涉密人员", "涉密人员", ""], "questions": [_question()], "extra": 1}, allow_unicode=True
    )
    assert check_bank_text(text) == [
        BankProblem(WHOLE_FILE, BankCode.UNKNOWN_TOP_KEY, {"key": "extra"}),
        BankProblem(TOPICS, BankCode.DUPLICATE_TOPIC, {"topic": "涉密人员"}),
        BankProblem(TOPICS, BankCode.INVALID_TOPIC, {"value": "''"}),
    ]
    assert described(text) == [
        "整个文件:未知的顶层字段 extra(只允许 topics 和 questions)",
        "topics:主题 涉密人员 重复",
        "topics:主题 '' 无效,应为非空文字",
    ]
    assert described(text, "en") == [
        "whole file: unknown top-level field extra (only topics and questions are allowed)",
        "topics: topic 涉密人员 is listed twice",
        "topics: topic '' is invalid: it must be non-empty text",
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = _bank_text(
        _question(answer="E", difficulty=9),
        dict(_MULTIPLE, answer="A"),
        dict(_TRUEFALSE, explanation=""),
    )
    assert described(text) == [
        "q001:难度应为 1、2 或 3,现为 9",
        "q001:答案 E 超出选项范围(共 4 个选项)",
        "q002:多选题至少应有 2 个答案,现有 1 个",
        "q003:解析不能为空",
    ]


def test_load_bank_raises_with_all_problems(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(_bank_text(_question(answer="E"), dict(_MULTIPLE, answer="A")), encoding="utf-8")
    with pytest.raises(BankError) as caught:
        load_bank(path)
    assert [(p.where.question, p.code) for p in caught.value.problems] == [
        ("q001", BankCode.ANSWER_OUT_OF_RANGE),
        ("q002", BankCode.MULTIPLE_ANSWER_COUNT),
    ]
    assert caught.value.path == path
    assert str(caught.value).startswith("2 problem(s) in the question bank")


def test_load_bank_builds_questions(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(_bank_text(_question(), _MULTIPLE, _TRUEFALSE), encoding="utf-8")
    bank = load_bank(path)
    assert bank.topics == ("涉密人员", "涉密载体")
    single = bank.by_id("q001")
    assert single.type is QuestionType.SINGLE
    assert single.answer == frozenset({2})
    assert single.options[2] == "核心涉密人员"
    assert bank.by_id("q002").answer == frozenset({0, 1, 2})
    true_false = bank.by_id("q003")
    assert true_false.options == ("正确", "错误")
    assert true_false.answer == frozenset({1})


# ---------------------------------------------------------------- draw_paper


def _make_question(qid: str, topic: str, qtype: QuestionType = QuestionType.SINGLE) -> Question:
    if qtype is QuestionType.TRUEFALSE:
        options: tuple[str, ...] = ("正确", "错误")
        answer = frozenset({0})
    else:
        options = ("甲", "乙", "丙", "丁")
        answer = frozenset({0, 2}) if qtype is QuestionType.MULTIPLE else frozenset({1})
    return Question(qid, qtype, topic, 1, f"{qid} 题干", options, answer, "解析", "出处原文片段")


def _make_bank(per_topic: dict[str, int]) -> Bank:
    questions: list[Question] = []
    for topic, count in per_topic.items():
        for i in range(count):
            qtype = (QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.TRUEFALSE)[i % 3]
            questions.append(_make_question(f"q{len(questions) + 1:03d}", topic, qtype))
    return Bank(tuple(per_topic), tuple(questions))


def _topic_counts(bank: Bank, paper: list[DrawnQuestion]) -> Counter[str]:
    return Counter(bank.by_id(d.question_id).topic for d in paper)


def test_bank_rejects_duplicate_ids() -> None:
    question = _make_question("q001", "甲")
    with pytest.raises(ValueError):
        Bank(("甲",), (question, question))


@pytest.mark.parametrize("seed", range(20))
def test_paper_is_distinct_and_balanced(seed: int) -> None:
    bank = _make_bank({"甲": 10, "乙": 10, "丙": 10, "丁": 10})
    paper = draw_paper(bank, 10, random.Random(seed))
    assert len({d.question_id for d in paper}) == 10
    assert sorted(_topic_counts(bank, paper).values()) == [2, 2, 3, 3]


@pytest.mark.parametrize("seed", range(10))
def test_small_topic_is_used_up_and_the_rest_stay_balanced(seed: int) -> None:
    bank = _make_bank({"甲": 1, "乙": 10, "丙": 10})
    paper = draw_paper(bank, 9, random.Random(seed))
    assert _topic_counts(bank, paper) == {"甲": 1, "乙": 4, "丙": 4}


def test_drawing_the_whole_bank_and_too_many() -> None:
    bank = _make_bank({"甲": 3, "乙": 2})
    paper = draw_paper(bank, 5, random.Random(1))
    assert sorted(d.question_id for d in paper) == [q.id for q in bank.questions]
    assert draw_paper(bank, 0, random.Random(1)) == []
    with pytest.raises(ValueError):
        draw_paper(bank, 6, random.Random(1))


@pytest.mark.parametrize("seed", range(10))
def test_seen_questions_are_avoided_while_unseen_suffice(seed: int) -> None:
    bank = _make_bank({"甲": 4, "乙": 4, "丙": 4})
    # Every question of 甲 and half of the others have been answered before: 4 unseen remain.
    seen = {q.id for q in bank.questions if q.topic == "甲"} | {"q005", "q006", "q009", "q010"}
    paper = draw_paper(bank, 3, random.Random(seed), seen)
    assert {d.question_id for d in paper}.isdisjoint(seen)


@pytest.mark.parametrize("seed", range(10))
def test_seen_questions_fill_up_the_paper_balancing_topics(seed: int) -> None:
    bank = _make_bank({"甲": 4, "乙": 4, "丙": 4})
    seen = {q.id for q in bank.questions if q.topic != "丙"}
    paper = draw_paper(bank, 6, random.Random(seed), seen)
    ids = {d.question_id for d in paper}
    assert {q.id for q in bank.questions if q.topic == "丙"} <= ids
    assert _topic_counts(bank, paper) == {"丙": 4, "甲": 1, "乙": 1}


def test_options_are_shuffled_as_permutations(shipped: Bank) -> None:
    paper = draw_paper(shipped, len(shipped.questions), random.Random(7))
    moved = 0
    for drawn in paper:
        question = shipped.by_id(drawn.question_id)
        assert sorted(drawn.order) == list(range(len(question.options)))
        if question.type is QuestionType.TRUEFALSE:
            assert drawn.order == (0, 1)
        elif drawn.order != tuple(range(len(question.options))):
            moved += 1
    assert moved > len(shipped.questions) // 2


def test_shipped_paper_covers_topics_evenly(shipped: Bank) -> None:
    paper = draw_paper(shipped, 20, random.Random(3))
    assert set(_topic_counts(shipped, paper).values()) == {1, 2}


def test_same_seed_gives_the_same_paper(shipped: Bank) -> None:
    first = draw_paper(shipped, 15, random.Random(42), seen={"q001", "q002"})
    again = draw_paper(shipped, 15, random.Random(42), seen={"q001", "q002"})
    other = draw_paper(shipped, 15, random.Random(43), seen={"q001", "q002"})
    assert first == again
    assert first != other


# ---------------------------------------------------------------- is_correct and score_percent


def test_is_correct_single_with_shuffled_order() -> None:
    question = _make_question("q001", "甲")  # answer is option 1 (乙)
    drawn = DrawnQuestion("q001", (3, 1, 0, 2))  # 乙 shown at position 1
    assert is_correct(question, drawn, {1})
    assert not is_correct(question, drawn, {0})
    assert not is_correct(question, drawn, {1, 2})
    assert not is_correct(question, drawn, set())


def test_is_correct_multiple_needs_exactly_the_right_set() -> None:
    question = _make_question("q001", "甲", QuestionType.MULTIPLE)  # answer is options 0 and 2
    drawn = DrawnQuestion("q001", (2, 1, 3, 0))  # 丙 at position 0, 甲 at position 3
    assert is_correct(question, drawn, [3, 0])
    assert not is_correct(question, drawn, [0])
    assert not is_correct(question, drawn, [0, 1, 3])
    assert not is_correct(question, drawn, [0, 2])


def test_is_correct_true_false() -> None:
    true_question = _make_question("q001", "甲", QuestionType.TRUEFALSE)
    false_question = Question(
        "q002", QuestionType.TRUEFALSE, "甲", 1, "题干", ("正确", "错误"), frozenset({1}), "解析", "出处原文片段"
    )
    assert is_correct(true_question, DrawnQuestion("q001", (0, 1)), {0})
    assert not is_correct(true_question, DrawnQuestion("q001", (0, 1)), {1})
    assert is_correct(false_question, DrawnQuestion("q002", (0, 1)), {1})
    assert not is_correct(false_question, DrawnQuestion("q002", (0, 1)), {0})


def test_is_correct_rejects_mismatched_input() -> None:
    question = _make_question("q001", "甲")
    with pytest.raises(ValueError):
        is_correct(question, DrawnQuestion("q002", (0, 1, 2, 3)), {1})
    with pytest.raises(ValueError):
        is_correct(question, DrawnQuestion("q001", (0, 1, 2, 3)), {4})
    with pytest.raises(ValueError):
        is_correct(question, DrawnQuestion("q001", (0, 1, 2)), {1})


@pytest.mark.parametrize(
    ("correct", "total", "percent"),
    [(0, 5, 0), (5, 5, 100), (1, 8, 13), (3, 8, 38), (1, 3, 33), (2, 3, 67), (1, 200, 1), (17, 20, 85)],
)
def test_score_percent_rounds_half_up(correct: int, total: int, percent: int) -> None:
    assert score_percent(correct, total) == percent


@pytest.mark.parametrize(("correct", "total"), [(0, 0), (-1, 5), (6, 5)])
def test_score_percent_rejects_impossible_scores(correct: int, total: int) -> None:
    with pytest.raises(ValueError):
        score_percent(correct, total)


# Parameters for each code, as the checker gives them.
SAMPLE_PARAMS: dict[BankCode, dict[str, object]] = {
    BankCode.YAML_SYNTAX: {"detail": "mapping values are not allowed here"},
    BankCode.YAML_ERROR: {"error": "unacceptable character"},
    BankCode.NOT_A_BANK: {},
    BankCode.UNKNOWN_TOP_KEY: {"key": "extra"},
    BankCode.NO_QUESTIONS: {},
    BankCode.DUPLICATE_KEY: {"key": "answer", "first_line": 3},
    BankCode.NO_TOPICS: {},
    BankCode.INVALID_TOPIC: {"value": "''"},
    BankCode.DUPLICATE_TOPIC: {"topic": "涉密人员"},
    BankCode.NOT_A_MAPPING: {},
    BankCode.DUPLICATE_ID: {"id": "q001", "first_line": 3},
    BankCode.DUPLICATE_TEXT: {"first": Location(question="q001")},
    BankCode.UNKNOWN_FIELD: {"field": "explaination"},
    BankCode.MISSING_FIELD: {"field": "explanation"},
    BankCode.NOT_TEXT: {"field": "text"},
    BankCode.EMPTY_TEXT: {"field": "source"},
    BankCode.BAD_ID: {"id": "Q1"},
    BankCode.UNKNOWN_TYPE: {"type": "essay"},
    BankCode.UNKNOWN_TOPIC: {"topic": "考试安全"},
    BankCode.BAD_DIFFICULTY: {"value": 4},
    BankCode.TRUEFALSE_OPTIONS: {},
    BankCode.OPTIONS_NOT_LIST: {},
    BankCode.OPTION_COUNT: {"count": 2, "min": 3, "max": 5},
    BankCode.EMPTY_OPTION: {"letter": "B"},
    BankCode.OPTION_TOO_LONG: {"letter": "B", "limit": 30, "length": 31},
    BankCode.DUPLICATE_OPTION: {"letter": "B", "first_letter": "A"},
    BankCode.TRUEFALSE_ANSWER: {"value": "正确"},
    BankCode.BAD_ANSWER: {"value": "b"},
    BankCode.REPEATED_LETTER: {"letter": "B"},
    BankCode.ANSWER_OUT_OF_RANGE: {"letter": "E", "options": 4},
    BankCode.SINGLE_ANSWER_COUNT: {"count": 2},
    BankCode.MULTIPLE_ANSWER_COUNT: {"count": 1},
    BankCode.HALF_WIDTH_PUNCTUATION: {"field": "text", "mark": ",", "letter": None},
}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_code_has_wording_in_both_languages(locale: str) -> None:
    assert set(SAMPLE_PARAMS) == set(BankCode)
    texts = Texts(TZ)
    place = "整个文件:" if locale == "zh" else "whole file: "
    seen = set()
    for code, params in SAMPLE_PARAMS.items():
        [text] = describe_problems([BankProblem(WHOLE_FILE, code, params)], texts, locale)
        assert text.startswith(place)
        message = text.removeprefix(place)
        assert message.strip() and message != code.value  # a branch of its own, not the fallback
        seen.add(message)
    assert len(seen) == len(BankCode)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_kind_of_location_has_wording_in_both_languages(locale: str) -> None:
    texts = Texts(TZ)
    places = [Location(question="q007"), Location(line=12), TOPICS, WHOLE_FILE]
    shown = [
        text.partition(":")[0]
        for text in describe_problems([BankProblem(p, BankCode.NOT_A_BANK) for p in places], texts, locale)
    ]
    assert shown == (
        ["q007", "第 12 行", "topics", "整个文件"] if locale == "zh" else ["q007", "line 12", "topics", "whole file"]
    )
