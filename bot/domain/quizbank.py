"""Question bank for the confidentiality knowledge quiz (保密知识答卷): checking, loading, drawing, scoring.

The bank is a hand-edited YAML file, so `check_bank_text` reports every problem at once, each with the
question id (or the line when there is no usable id), so an editor can fix the whole file in one pass.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

MIN_OPTIONS = 3
MAX_OPTIONS = 5
# One inline button per option on a phone screen; longer texts get cut off.
MAX_OPTION_CHARS = 30
TRUE_FALSE_OPTIONS = ("正确", "错误")
MIN_DIFFICULTY = 1
MAX_DIFFICULTY = 3

_ID_PATTERN = re.compile(r"q\d{3,}")
_ANSWER_PATTERN = re.compile(r"[A-Z]+")
_FIELD_NAMES = {
    "id": "编号",
    "type": "题型",
    "topic": "主题",
    "difficulty": "难度",
    "text": "题干",
    "options": "选项",
    "answer": "答案",
    "explanation": "解析",
    "source": "出处",
}
_REQUIRED_FIELDS = ("id", "type", "topic", "difficulty", "text", "answer", "explanation", "source")
_TOP_LEVEL_KEYS = ("topics", "questions")
_WHOLE_FILE = "整个文件"

_Report = Callable[[str], None]


class QuestionType(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUEFALSE = "truefalse"


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    topic: str
    difficulty: int
    text: str
    options: tuple[str, ...]
    answer: frozenset[int]  # indices into `options`
    explanation: str
    source: str


@dataclass(frozen=True)
class Bank:
    topics: tuple[str, ...]
    questions: tuple[Question, ...]
    _index: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Question] = {}
        for question in self.questions:
            if question.id in index:
                raise ValueError(f"duplicate question id {question.id}")
            index[question.id] = question
        object.__setattr__(self, "_index", index)

    def by_id(self, qid: str) -> Question:
        """Raises KeyError for an id not in the bank (e.g. a paper drawn from an older bank)."""
        return self._index[qid]


@dataclass(frozen=True)
class BankProblem:
    where: str  # a question id such as "q017", or "第 12 行" when there is no usable id
    message: str

    def __str__(self) -> str:
        return f"{self.where}:{self.message}"


class BankError(Exception):
    def __init__(self, problems: Sequence[BankProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"题库有 {len(self.problems)} 处问题:\n" + "\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class DrawnQuestion:
    question_id: str
    order: tuple[int, ...]  # order[i] = index in question.options of the option displayed at position i


def check_bank_text(yaml_text: str) -> list[BankProblem]:
    return _parse(yaml_text)[1]


def load_bank(path: Path) -> Bank:
    bank, problems = _parse(path.read_text(encoding="utf-8"))
    if problems or bank is None:
        raise BankError(problems)
    return bank


def draw_paper(bank: Bank, n: int, rng: random.Random, seen: Collection[str] = ()) -> list[DrawnQuestion]:
    """Draw n distinct questions with shuffled options.

    Questions not in `seen` are used up before any seen one, so a person retaking the quiz gets new
    questions for as long as the bank has them. Within each of those two tiers every pick goes to the
    topic drawn least so far (ties in a shuffled topic order), which is a round-robin over the topics
    that keeps their counts within one of each other unless a topic runs out.
    """
    if not 0 <= n <= len(bank.questions):
        raise ValueError(f"cannot draw {n} questions from a bank of {len(bank.questions)}")
    seen_ids = set(seen)
    pools: dict[str, tuple[list[Question], list[Question]]] = {}
    for question in bank.questions:
        unseen_pool, seen_pool = pools.setdefault(question.topic, ([], []))
        (seen_pool if question.id in seen_ids else unseen_pool).append(question)
    topics = list(pools)
    rng.shuffle(topics)
    for unseen_pool, seen_pool in pools.values():
        rng.shuffle(unseen_pool)
        rng.shuffle(seen_pool)

    counts = dict.fromkeys(topics, 0)
    picked: list[Question] = []
    for tier in (0, 1):
        while len(picked) < n:
            available = [t for t in topics if pools[t][tier]]
            if not available:
                break
            topic = min(available, key=lambda t: counts[t])
            picked.append(pools[topic][tier].pop())
            counts[topic] += 1
    return [DrawnQuestion(q.id, _shuffled_order(q, rng)) for q in picked]


def is_correct(question: Question, drawn: DrawnQuestion, chosen_positions: Collection[int]) -> bool:
    """Whether the displayed positions the person chose are exactly the right options."""
    if drawn.question_id != question.id:
        raise ValueError(f"drawn question {drawn.question_id} is not {question.id}")
    if sorted(drawn.order) != list(range(len(question.options))):
        raise ValueError(f"order {drawn.order} does not fit the options of {question.id}")
    if any(not 0 <= p < len(drawn.order) for p in chosen_positions):
        raise ValueError(f"chosen positions {sorted(chosen_positions)} out of range for {question.id}")
    return {drawn.order[p] for p in chosen_positions} == question.answer


def score_percent(correct: int, total: int) -> int:
    """Percentage rounded half up (so 1 of 8 is 13, not the 12 banker's rounding would give)."""
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"invalid score {correct}/{total}")
    return (200 * correct + total) // (2 * total)


def _shuffled_order(question: Question, rng: random.Random) -> tuple[int, ...]:
    if question.type is QuestionType.TRUEFALSE:
        # 正确 before 错误 everywhere, so people do not misread a swapped pair.
        return tuple(range(len(question.options)))
    return tuple(rng.sample(range(len(question.options)), len(question.options)))


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def _normalised(text: str) -> str:
    """Texts that differ only in spacing, punctuation, full/half width or case count as the same."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def _line(node: yaml.Node) -> str:
    return f"第 {node.start_mark.line + 1} 行"


def _parse(yaml_text: str) -> tuple[Bank | None, list[BankProblem]]:
    try:
        loader = yaml.SafeLoader(yaml_text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"第 {mark.line + 1} 行" if mark is not None else _WHOLE_FILE
        detail = exc.problem or exc.context or "无法解析"
        return None, [BankProblem(where, f"YAML 格式错误({detail}),请检查缩进、冒号和引号")]
    except yaml.YAMLError as exc:
        return None, [BankProblem(_WHOLE_FILE, f"YAML 格式错误({exc})")]

    if root is None or not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        return None, [BankProblem(_WHOLE_FILE, "题库应由 topics(主题列表)和 questions(题目列表)两部分组成")]

    problems = _duplicate_keys(root)
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            problems.append(BankProblem(_WHOLE_FILE, f"未知的顶层字段 {key}(只允许 topics 和 questions)"))
    topics = _check_topics(data.get("topics"), problems)

    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append(BankProblem(_WHOLE_FILE, "缺少 questions 题目列表,或列表为空"))
        return None, problems
    question_nodes = _value_node(root, "questions")
    assert isinstance(question_nodes, yaml.SequenceNode)  # data["questions"] was constructed from it

    questions: list[Question] = []
    first_line_of_id: dict[str, str] = {}
    first_label_of_text: dict[str, str] = {}
    for raw, node in zip(raw_questions, question_nodes.value, strict=True):
        line = _line(node)
        if not isinstance(raw, dict):
            problems.append(BankProblem(line, "题目应写成“字段: 值”的形式"))
            continue
        qid = raw.get("id")
        label = line
        if isinstance(qid, str) and _ID_PATTERN.fullmatch(qid):
            if qid in first_line_of_id:
                problems.append(BankProblem(line, f"编号 {qid} 重复({first_line_of_id[qid]}已使用)"))
            else:
                first_line_of_id[qid] = line
                label = qid
        text = raw.get("text")
        if isinstance(text, str) and _normalised(text):
            key = _normalised(text)
            if key in first_label_of_text:
                problems.append(BankProblem(label, f"题干与 {first_label_of_text[key]} 重复"))
            else:
                first_label_of_text[key] = label
        question = _check_question(raw, label, topics, problems)
        if question is not None:
            questions.append(question)

    if problems:
        return None, problems
    return Bank(tuple(topics), tuple(questions)), problems


def _value_node(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    # The last occurrence wins, as in the constructed data.
    found = None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found = value_node
    return found


def _duplicate_keys(node: yaml.Node) -> list[BankProblem]:
    """PyYAML silently keeps the last of two equal keys, which would hide e.g. a second `answer:` line."""
    problems: list[BankProblem] = []
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in first_seen:
                    earlier = _line(first_seen[key_node.value])
                    problems.append(BankProblem(_line(key_node), f"字段 {key_node.value} 重复出现({earlier}已有)"))
                else:
                    first_seen[key_node.value] = key_node
            problems.extend(_duplicate_keys(value_node))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item))
    return problems


def _check_topics(raw: Any, problems: list[BankProblem]) -> list[str]:
    if not isinstance(raw, list) or not raw:
        problems.append(BankProblem("topics", "缺少 topics 主题列表,或列表为空"))
        return []
    topics: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            problems.append(BankProblem("topics", f"主题 {item!r} 无效,应为非空文字"))
        elif item in topics:
            problems.append(BankProblem("topics", f"主题 {item} 重复"))
        else:
            topics.append(item)
    return topics


def _check_question(raw: dict[Any, Any], label: str, topics: list[str], problems: list[BankProblem]) -> Question | None:
    found: list[BankProblem] = []

    def problem(message: str) -> None:
        found.append(BankProblem(label, message))

    for key in raw:
        if key not in _FIELD_NAMES:
            problem(f"未知字段 {key}")
    for key in _REQUIRED_FIELDS:
        if key not in raw:
            problem(f"缺少字段 {key}({_FIELD_NAMES[key]})")

    def text_field(key: str) -> str | None:
        if key not in raw:
            return None
        value = raw[key]
        if not isinstance(value, str):
            problem(f"{_FIELD_NAMES[key]}应为文字")
            return None
        if not value.strip():
            problem(f"{_FIELD_NAMES[key]}不能为空")
            return None
        return value.strip()

    qid = text_field("id")
    if qid is not None and not _ID_PATTERN.fullmatch(qid):
        problem(f"编号 {qid} 格式不对,应形如 q001")

    qtype: QuestionType | None = None
    raw_type = text_field("type")
    if raw_type is not None:
        if raw_type in {t.value for t in QuestionType}:
            qtype = QuestionType(raw_type)
        else:
            problem(f"题型 {raw_type} 无效,应为 single(单选)、multiple(多选)或 truefalse(判断)")

    topic = text_field("topic")
    if topic is not None and topics and topic not in topics:
        problem(f"主题 {topic} 不在 topics 列表中")

    difficulty = raw.get("difficulty")
    if "difficulty" in raw and (
        isinstance(difficulty, bool)
        or not isinstance(difficulty, int)
        or not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY
    ):
        problem(f"难度应为 1、2 或 3,现为 {difficulty}")

    text = text_field("text")
    explanation = text_field("explanation")
    source = text_field("source")

    options = _check_options(raw, qtype, problem)
    answer = _check_answer(raw, qtype, options, problem)

    problems.extend(found)
    if (
        found
        or qid is None
        or qtype is None
        or topic is None
        or not isinstance(difficulty, int)
        or text is None
        or explanation is None
        or source is None
        or options is None
        or answer is None
    ):
        return None
    return Question(qid, qtype, topic, difficulty, text, options, answer, explanation, source)


def _check_options(raw: dict[Any, Any], qtype: QuestionType | None, problem: _Report) -> tuple[str, ...] | None:
    if qtype is QuestionType.TRUEFALSE:
        if "options" in raw:
            problem("判断题不写选项(固定为 正确/错误)")
            return None
        return TRUE_FALSE_OPTIONS
    if "options" not in raw:
        if qtype is not None:
            problem("缺少字段 options(选项)")
        return None
    raw_options = raw["options"]
    if not isinstance(raw_options, list):
        problem("选项应为列表")
        return None

    ok = True
    if not MIN_OPTIONS <= len(raw_options) <= MAX_OPTIONS:
        problem(f"选项应有 {MIN_OPTIONS}–{MAX_OPTIONS} 个,现有 {len(raw_options)} 个")
        ok = False
    first_letter_of: dict[str, str] = {}
    for index, option in enumerate(raw_options):
        letter = _letter(index)
        if not isinstance(option, str) or not option.strip():
            problem(f"选项 {letter} 为空或不是文字")
            ok = False
            continue
        option_text = option.strip()
        if len(option_text) > MAX_OPTION_CHARS:
            problem(f"选项 {letter} 超过 {MAX_OPTION_CHARS} 个字(现为 {len(option_text)} 个字)")
            ok = False
        key = _normalised(option_text)
        if key in first_letter_of:
            problem(f"选项 {letter} 与选项 {first_letter_of[key]} 相同")
            ok = False
        else:
            first_letter_of[key] = letter
    if not ok:
        return None
    return tuple(option.strip() for option in raw_options)


def _check_answer(
    raw: dict[Any, Any], qtype: QuestionType | None, options: tuple[str, ...] | None, problem: _Report
) -> frozenset[int] | None:
    if "answer" not in raw or qtype is None:
        return None
    value = raw["answer"]
    if qtype is QuestionType.TRUEFALSE:
        if not isinstance(value, bool):
            problem(f"判断题答案应为 true(正确)或 false(错误),现为 {value}")
            return None
        return frozenset({0 if value else 1})

    if not isinstance(value, str) or not _ANSWER_PATTERN.fullmatch(value.strip()):
        problem(f"答案 {value} 无效,应写大写选项字母,如 B 或 ACD")
        return None
    letters = value.strip()
    ok = True
    for letter in sorted(set(letters)):
        if letters.count(letter) > 1:
            problem(f"答案中字母 {letter} 重复")
            ok = False
    if options is not None:
        for letter in sorted(set(letters)):
            if ord(letter) - ord("A") >= len(options):
                problem(f"答案 {letter} 超出选项范围(共 {len(options)} 个选项)")
                ok = False
    count = len(set(letters))
    if qtype is QuestionType.SINGLE and count != 1:
        problem(f"单选题应有且只有 1 个答案,现有 {count} 个")
        ok = False
    if qtype is QuestionType.MULTIPLE and count < 2:
        problem(f"多选题至少应有 2 个答案,现有 {count} 个")
        ok = False
    if not ok or options is None:
        return None
    return frozenset(ord(letter) - ord("A") for letter in letters)
